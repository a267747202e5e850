"""Offline checks CI runs besides the tests: the template's security scan and the Dockerfile lint.

Both tools live in ``.venv-security`` (``requirements/security.txt``): checkov's pins clash with
moto's and the SAM CLI's, so it cannot share the project's environment.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECURITY_VENV = ROOT / ".venv-security"


def find_tool(name: str, env_var: str) -> str | None:
    """``$ENV_VAR``, else ``.venv-security/bin/NAME``, else ``NAME`` on PATH."""
    explicit = os.environ.get(env_var)
    if explicit:
        return explicit
    candidate = SECURITY_VENV / "bin" / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which(name)
