"""Write the console's ``config.json`` from an env file of stack outputs (``make outputs`` writes
``.env.cloud``): only the endpoints the page calls and the user pool it logs in to, nothing else
from the file (never a credential: the page holds no secret, every user logs in).

    python web/config_from_env.py .env.cloud > web/dist/config.json

``COGNITO_ENDPOINT_URL`` is for a local cloud only: the moto endpoint that answers Cognito
(an env file's ``AWS_ENDPOINT_URL`` becomes it). Without it the page calls
``https://cognito-idp.<region>.amazonaws.com/``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path

KEYS = (
    "REST_API_URL",
    "WEBSOCKET_URL",
    "PACS_API_URL",
    "SERVICES_API_URL",
    "USER_POOL_ID",
    "USER_POOL_CLIENT_ID",
    "AWS_REGION",
    "COGNITO_ENDPOINT_URL",
)
REQUIRED = ("REST_API_URL", "WEBSOCKET_URL", "PACS_API_URL", "USER_POOL_ID", "USER_POOL_CLIENT_ID")


def read_env(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and not name.startswith("#"):
            values[name.strip()] = value.strip().strip("'\"")
    return values


def console_config(values: Mapping[str, str]) -> dict[str, str]:
    """The page's config from stack outputs (env-file keys): the allowed keys, nothing else.

    The local cloud serves its console with this too, so both paths publish the same keys.
    """
    values = dict(values)
    if values.get("AWS_ENDPOINT_URL") and not values.get("COGNITO_ENDPOINT_URL"):
        values["COGNITO_ENDPOINT_URL"] = values["AWS_ENDPOINT_URL"]
    return {key: values[key] for key in KEYS if values.get(key)}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    values = console_config(read_env(Path(argv[0])))
    missing = [key for key in REQUIRED if not values.get(key)]
    if missing:
        print(f"{argv[0]} lacks {', '.join(missing)}", file=sys.stderr)
        return 1
    print(json.dumps(values, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
