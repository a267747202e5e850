"""Scan template.yaml with checkov, offline (``python -m tools.checks.security``).

The run's settings are in ``.checkov.yaml`` at the repository root (framework, no download of
Prisma Cloud guidelines). checkov reads SAM resources itself but not ``Fn::ForEach``, so it scans
the template as CloudFormation sees it after ``AWS::LanguageExtensions`` (expanded by the local
cloud's reader, ``localcloud/language_extensions.py``), written to ``SCANNED``. Every finding is
either fixed in the template or skipped with a reason: on every resource of a type in
``uniform_skips.yaml`` (added here before the scan), or on the resource itself (``Metadata:
checkov: skip: [{id, comment}]``, which wins for its check); docs/security-findings.md lists
them. This prints failures grouped by check and the skips with their reasons, and exits 1 while
any finding is open (2 when checkov is not installed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from localcloud.template import load_yaml
from tools.checks import ROOT, find_tool

CONFIG = ROOT / ".checkov.yaml"
TEMPLATE = ROOT / "template.yaml"
UNIFORM_SKIPS = Path(__file__).with_name("uniform_skips.yaml")
SCANNED = ROOT / ".aws-sam" / "checkov" / "template.yaml"
EXIT_NOT_INSTALLED = 2


def scanned_document(
    template: Path = TEMPLATE, uniform_skips: Path = UNIFORM_SKIPS
) -> dict[str, Any]:
    """The expanded template, each resource carrying its type's uniform skips (its own first)."""
    document = load_yaml(template)
    by_type: dict[str, list[dict[str, str]]] = yaml.safe_load(uniform_skips.read_text())
    for resource in (document.get("Resources") or {}).values():
        uniform = by_type.get(resource.get("Type"), [])
        if not uniform:
            continue
        metadata = dict(resource.get("Metadata") or {})
        checkov = dict(metadata.get("checkov") or {})
        own = list(checkov.get("skip") or [])
        own_ids = {skip["id"] for skip in own}
        checkov["skip"] = own + [skip for skip in uniform if skip["id"] not in own_ids]
        resource["Metadata"] = {**metadata, "checkov": checkov}
    return document


def write_scanned(path: Path = SCANNED) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(scanned_document(), sort_keys=False, width=100))
    return path


def scan_command(checkov: str, scanned: Path = SCANNED) -> list[str]:
    return [checkov, "--config-file", str(CONFIG), "--file", str(scanned), "--output", "json"]


def results(report: Any) -> dict[str, list[dict[str, Any]]]:
    """checkov prints one report, or a list of them (one per framework); merge the checks."""
    merged: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for one in report if isinstance(report, list) else [report]:
        for kind in ("failed_checks", "skipped_checks", "passed_checks"):
            merged[kind] += (one.get("results") or {}).get(kind, [])
    return merged


def _resource(check: dict[str, Any]) -> str:
    return str(check["resource"]).rpartition(".")[2]


def summarise(found: dict[str, list[dict[str, Any]]]) -> list[str]:
    lines = []
    failed: dict[tuple[str, str], list[str]] = defaultdict(list)
    for check in found["failed_checks"]:
        failed[(check["check_id"], check["check_name"])].append(_resource(check))
    for (check_id, name), resources in sorted(failed.items()):
        lines.append(f"FAILED {check_id} {name}")
        lines += [f"    {resource}" for resource in sorted(resources)]
    for check in sorted(found["skipped_checks"], key=lambda c: (c["check_id"], _resource(c))):
        reason = (check.get("check_result") or {}).get("suppress_comment") or "(no reason given)"
        lines.append(f"skipped {check['check_id']} on {_resource(check)}: {reason}")
    lines.append(
        f"{len(found['failed_checks'])} failed, {len(found['skipped_checks'])} skipped, "
        f"{len(found['passed_checks'])} passed"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.checks.security")
    parser.parse_args(argv)
    checkov = find_tool("checkov", "CHECKOV")
    if checkov is None:
        print(
            "security: checkov is not installed; run `make security-tools` (pip install -r "
            "requirements/security.txt into .venv-security) or set CHECKOV",
            file=sys.stderr,
        )
        return EXIT_NOT_INSTALLED
    # No network in CI: checkov would otherwise try to fetch its guideline mappings first.
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    scan = subprocess.run(
        scan_command(checkov, write_scanned()),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(scan.stdout)
    except json.JSONDecodeError:
        print(scan.stdout[-2000:], scan.stderr[-4000:], sep="\n", file=sys.stderr)
        print(
            f"security: checkov did not produce a report (exit {scan.returncode})", file=sys.stderr
        )
        return scan.returncode or 1
    found = results(report)
    print("\n".join(summarise(found)))
    return 1 if found["failed_checks"] else 0


if __name__ == "__main__":
    sys.exit(main())
