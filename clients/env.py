"""Read the endpoints file that ``gen_env`` (cloud) and the local cloud write.

The file is ``KEY=VALUE`` lines (``.env.local`` by default): blank lines and ``#`` comments are
ignored, an ``export`` prefix and matching quotes around a value are allowed. Values already in the
process environment win, so one endpoint can be overridden without editing the file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ENV_FILE = Path(".env.local")
REQUIRED = ("REST_API_URL", "WEBSOCKET_URL")


class EnvFileError(ValueError):
    """The endpoints file is missing, malformed or lacks a required key."""


def parse_env(text: str, *, source: str = "<env>") -> dict[str, str]:
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key.replace("_", "").isalnum():
            raise EnvFileError(f"{source}:{number}: expected KEY=VALUE, got {raw!r}")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = value
    return values


@dataclass(frozen=True)
class Endpoints:
    rest_api_url: str
    websocket_url: str
    rest_api_key: str | None = None

    @classmethod
    def from_values(cls, values: Mapping[str, str], *, source: str = "<env>") -> Endpoints:
        missing = [key for key in REQUIRED if not values.get(key)]
        if missing:
            raise EnvFileError(f"{source} lacks {', '.join(missing)}")
        return cls(
            rest_api_url=values["REST_API_URL"].rstrip("/"),
            websocket_url=values["WEBSOCKET_URL"].rstrip("/"),
            rest_api_key=values.get("REST_API_KEY") or None,
        )


def load_endpoints(
    path: Path = DEFAULT_ENV_FILE, environ: Mapping[str, str] | None = None
) -> Endpoints:
    environ = os.environ if environ is None else environ
    try:
        values = parse_env(path.read_text(), source=str(path))
    except FileNotFoundError:
        values = {}
        if not all(environ.get(key) for key in REQUIRED):
            raise EnvFileError(
                f"{path} not found: run the local cloud or gen_env first, or pass --env-file"
            ) from None
    overrides = {key: environ[key] for key in (*REQUIRED, "REST_API_KEY") if environ.get(key)}
    return Endpoints.from_values({**values, **overrides}, source=str(path))
