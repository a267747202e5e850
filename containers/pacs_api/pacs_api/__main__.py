"""``python -m pacs_api``: serve the API with uvicorn on ``PORT``.

Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT), 2 when the environment is invalid.
"""

from __future__ import annotations

import signal
import sys

import uvicorn
from pydantic import ValidationError

from pacs_api.app import create_app
from pacs_api.settings import PacsSettings

EXIT_BAD_CONFIG = 2
# Longer than the load balancer's idle timeout (60 s, the ALB's default): the ALB, not the
# PACS, closes an idle connection, so it never forwards a request onto one the PACS has just
# closed (a 502), and it reuses its connections instead of opening one per burst of requests.
KEEP_ALIVE_SECONDS = 75


def main() -> int:
    try:
        settings = PacsSettings()
    except ValidationError as exc:
        print(f"pacs_api: invalid environment: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal with the
    # handlers it found installed: no-op handlers make a clean stop exit 0 instead of -15.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: None)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=False,  # the app logs each request itself, as structured JSON
        timeout_graceful_shutdown=10,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
