"""Where the local cloud's Python logging goes: everything to ``<state dir>/logs/localcloud.log``,
and to the terminal only the local cloud's and the demo's own lines.

Libraries log at ERROR for things that are expected here: moto's Step Functions interpreter logs
a failed state with its whole state object when the pipeline rejects a bad input on purpose, and
botocore and werkzeug log every retry and request. Those lines belong in the log file, next to
the functions' and containers' logs, not on the terminal where the demo reports its results.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

# Loggers whose records are the terminal's: the local cloud itself and the demo driving it.
TERMINAL_LOGGERS = ("localcloud", "demo", "__main__")
FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


class _OwnLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return any(
            record.name == name or record.name.startswith(name + ".") for name in TERMINAL_LOGGERS
        )


def configure(state_dir: Path, *, terminal_level: int, verbose: bool = False) -> Path:
    """Route logging as described above; returns the log file's path."""
    path = state_dir / "logs" / "localcloud.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    to_file = logging.FileHandler(path, mode="w", encoding="utf-8")
    to_file.setFormatter(logging.Formatter(FORMAT))
    to_file.setLevel(logging.DEBUG if verbose else logging.INFO)
    to_terminal = logging.StreamHandler(sys.stderr)
    to_terminal.setFormatter(logging.Formatter(FORMAT))
    to_terminal.setLevel(logging.DEBUG if verbose else terminal_level)
    to_terminal.addFilter(_OwnLines())
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(to_file)
    root.addHandler(to_terminal)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("werkzeug", "botocore", "urllib3", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    return path
