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
# What a client needs to log in (clients/auth.py reads them when it logs in).
LOGIN_KEYS = ("USER_POOL_ID", "USER_POOL_CLIENT_ID")
# Keys the process environment may override, one endpoint at a time.
ENDPOINT_KEYS = (
    *REQUIRED,
    *LOGIN_KEYS,
    "SERVICES_API_URL",
    "PACS_API_URL",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
)


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
    """Where the stack answers. No credential: callers log in (``clients.auth``) and send the
    user's ID token."""

    rest_api_url: str
    websocket_url: str
    user_pool_id: str | None = None
    user_pool_client_id: str | None = None
    region: str | None = None
    services_api_url: str | None = None
    pacs_api_url: str | None = None
    aws_endpoint_url: str | None = None  # the local cloud's moto; None on AWS

    @classmethod
    def from_values(cls, values: Mapping[str, str], *, source: str = "<env>") -> Endpoints:
        missing = [key for key in REQUIRED if not values.get(key)]
        if missing:
            raise EnvFileError(f"{source} lacks {', '.join(missing)}")

        def optional(key: str) -> str | None:
            return values.get(key, "").rstrip("/") or None

        return cls(
            rest_api_url=values["REST_API_URL"].rstrip("/"),
            websocket_url=values["WEBSOCKET_URL"].rstrip("/"),
            user_pool_id=optional("USER_POOL_ID"),
            user_pool_client_id=optional("USER_POOL_CLIENT_ID"),
            region=optional("AWS_REGION"),
            services_api_url=optional("SERVICES_API_URL"),
            pacs_api_url=optional("PACS_API_URL"),
            aws_endpoint_url=optional("AWS_ENDPOINT_URL"),
        )


def load_env(
    path: Path = DEFAULT_ENV_FILE, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The env file's values with the process environment's endpoint overrides on top (the
    login reads its user and password keys from here too: ``clients.auth``)."""
    environ = os.environ if environ is None else environ
    try:
        values = parse_env(path.read_text(), source=str(path))
    except FileNotFoundError:
        values = {}
        if not all(environ.get(key) for key in REQUIRED):
            raise EnvFileError(
                f"{path} not found: run the local cloud or gen_env first, or pass --env-file"
            ) from None
    overrides = {key: environ[key] for key in ENDPOINT_KEYS if environ.get(key)}
    return {**values, **overrides}


def load_endpoints(
    path: Path = DEFAULT_ENV_FILE, environ: Mapping[str, str] | None = None
) -> Endpoints:
    return Endpoints.from_values(load_env(path, environ), source=str(path))
