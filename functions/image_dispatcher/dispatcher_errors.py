"""Domain errors of the dispatcher."""

from __future__ import annotations


class DispatchFailed(Exception):
    """Some records failed unexpectedly. Raised after every record was tried, so Lambda's async
    retries (then the on-failure destination) keep the event; re-running the records that did
    succeed is harmless because their execution names already exist."""

    def __init__(self, failed: list[str], total: int) -> None:
        self.failed = failed
        super().__init__(f"{len(failed)} of {total} records failed: {', '.join(failed)}")
