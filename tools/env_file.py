"""The endpoints file every client reads (``clients/env.py``): one rule for its keys and layout,
shared by ``gen_env`` (a deployed stack) and the local cloud (``.env.local``)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path


def env_key(output_name: str) -> str:
    """``RestApiUrl`` -> ``REST_API_URL``: the env-file key of a stack output."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", output_name).upper()


def render(values: Mapping[str, str], header: str) -> str:
    for key, value in values.items():
        if "\n" in value or "\r" in value:
            raise ValueError(f"{key}: a value for an env file cannot span lines")
    lines = [f"# {line}" for line in header.splitlines()]
    lines += [f"{key}={values[key]}" for key in sorted(values)]
    return "\n".join(lines) + "\n"


def write_private(path: Path, text: str) -> None:
    """Write atomically, readable by the owner only: the file carries the API key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(text)
    os.replace(partial, path)


def write_env_file(path: Path, values: Mapping[str, str], header: str) -> None:
    write_private(path, render(values, header))


def write_web_config(path: Path, values: Mapping[str, str]) -> None:
    """The web console's ``config.json``: the same keys, so the console reads either cloud."""
    write_private(path, json.dumps(dict(sorted(values.items())), indent=2) + "\n")
