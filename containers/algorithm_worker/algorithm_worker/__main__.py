"""``python -m algorithm_worker``: run the worker of the algorithm named by ``ALGO_ID``.

Exit codes: 0 after a clean stop (SIGTERM/SIGINT), 2 when the environment is invalid or
``ALGO_ID`` names no registered algorithm.
"""

from __future__ import annotations

import sys

from pydantic import ValidationError

from algorithm_worker.algorithms import REGISTRY
from algorithm_worker.settings import WorkerSettings
from algorithm_worker.worker import Worker

EXIT_BAD_CONFIG = 2


def main() -> int:
    try:
        settings = WorkerSettings()
    except ValidationError as exc:
        print(f"algorithm_worker: invalid environment: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    algorithm = REGISTRY.get(settings.algo_id)
    if algorithm is None:
        known = ", ".join(sorted(REGISTRY))
        print(
            f"algorithm_worker: unknown ALGO_ID {settings.algo_id!r} (known: {known})",
            file=sys.stderr,
        )
        return EXIT_BAD_CONFIG
    return Worker(settings, algorithm).run()


if __name__ == "__main__":
    sys.exit(main())
