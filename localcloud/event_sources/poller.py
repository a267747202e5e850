"""What every event source shares: a poller thread, and reading a batch response."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("localcloud.events")
Invoke = Callable[[str, Any], Any]


class Poller:
    """A daemon thread that calls ``poll_once`` until stopped."""

    name = "poller"
    workers = 1

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for index in range(self.workers):
            thread = threading.Thread(target=self._run, name=f"{self.name}#{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("%s: poll failed; retrying", self.name)
                self._stop.wait(1.0)

    def poll_once(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


def failed_item_ids(response: Any) -> set[str] | None:
    """The ``batchItemFailures`` identifiers, or None when the response is not a valid one."""
    if response is None:
        return set()
    if not isinstance(response, dict):
        return None
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    ids: set[str] = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not identifier:
            return None  # AWS treats a malformed failure list as a failure of the whole batch
        ids.add(str(identifier))
    return ids
