"""What every event source shares: a poller thread, reading a batch response, and the stream
mappings' on-failure record."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
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


def retries_exhausted(
    function_arn: str,
    attempts: int,
    batch_info: tuple[str, dict[str, Any]],
    response_context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The on-failure record a stream mapping sends when a batch has used its retries;
    ``batch_info`` is the stream's section (``KinesisBatchInfo``, ``DDBStreamBatchInfo``)."""
    record: dict[str, Any] = {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": function_arn,
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": attempts,
        }
    }
    if response_context is not None:
        record["responseContext"] = response_context
    record["version"] = "1.0"
    record["timestamp"] = datetime.now(UTC).isoformat()
    record[batch_info[0]] = batch_info[1]
    return record
