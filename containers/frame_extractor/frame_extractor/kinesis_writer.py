"""Batched ``PutRecords`` with retries.

A batch holds at most 500 records and 5 MiB. Throttling of the whole call and partial failures
(``FailedRecordCount`` > 0: only the failed entries are re-sent) are retried with exponential
backoff and full jitter; after ``max_attempts`` the writer raises ``StreamWriteError``, so a
frame is never silently dropped.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from frame_extractor.errors import StreamWriteError

MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 5 * 1024 * 1024
_RETRYABLE_CALL_ERRORS = {
    "ProvisionedThroughputExceededException",
    "LimitExceededException",
    "KMSThrottlingException",
    "InternalFailure",
    "ServiceUnavailable",
}


class KinesisBatchWriter:
    def __init__(
        self,
        kinesis: Any,
        stream_name: str,
        *,
        max_attempts: int = 8,
        base_delay: float = 0.1,
        max_delay: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._kinesis = kinesis
        self._stream = stream_name
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._sleep = sleep
        self._pending: list[dict[str, Any]] = []
        self._pending_bytes = 0
        self.records_written = 0
        self.retries = 0

    def add(self, data: bytes, partition_key: str) -> None:
        size = len(data) + len(partition_key.encode())
        if self._pending and (
            len(self._pending) >= MAX_BATCH_RECORDS or self._pending_bytes + size > MAX_BATCH_BYTES
        ):
            self.flush()
        self._pending.append({"Data": data, "PartitionKey": partition_key})
        self._pending_bytes += size

    def flush(self) -> None:
        entries, self._pending, self._pending_bytes = self._pending, [], 0
        attempt = 0
        while entries:
            attempt += 1
            try:
                response = self._kinesis.put_records(StreamName=self._stream, Records=entries)
            except ClientError as exc:
                code = exc.response["Error"]["Code"]
                if code not in _RETRYABLE_CALL_ERRORS or attempt >= self._max_attempts:
                    raise StreamWriteError(f"PutRecords to {self._stream} failed: {code}") from exc
                self._back_off(attempt)
                continue
            results = response["Records"]
            failed = [
                entry
                for entry, result in zip(entries, results, strict=True)
                if result.get("ErrorCode")
            ]
            self.records_written += len(entries) - len(failed)
            if not failed:
                return
            if attempt >= self._max_attempts:
                codes = sorted({r["ErrorCode"] for r in results if r.get("ErrorCode")})
                raise StreamWriteError(
                    f"{len(failed)} records still refused by {self._stream} after "
                    f"{attempt} attempts ({', '.join(codes)})"
                )
            entries = failed
            self._back_off(attempt)

    def _back_off(self, attempt: int) -> None:
        self.retries += 1
        self._sleep(random.uniform(0, min(self._max_delay, self._base_delay * 2**attempt)))  # noqa: S311 - jitter
