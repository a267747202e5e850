"""Keeps a message invisible while its job runs, so no other worker takes it meanwhile, and
says the job is alive (``on_beat``: the job's ``heartbeat_at`` in JobsTable, which the sweeper
of lost jobs reads)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pipeline_common.observability import logger


class VisibilityHeartbeat:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        receipt_handle: str,
        *,
        visibility_timeout_seconds: int,
        interval_seconds: float,
        on_beat: Callable[[], None] | None = None,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.receipt_handle = receipt_handle
        self.visibility_timeout_seconds = visibility_timeout_seconds
        self.interval_seconds = interval_seconds
        self.on_beat = on_beat
        self.extensions = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="visibility-heartbeat", daemon=True)

    def __enter__(self) -> VisibilityHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        while not self._stopped.wait(self.interval_seconds):
            try:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=self.receipt_handle,
                    VisibilityTimeout=self.visibility_timeout_seconds,
                )
                self.extensions += 1
            except (ClientError, BotoCoreError) as exc:
                # Not fatal: at worst the message reappears and the job's conditional updates
                # keep a second delivery from publishing a second, different result.
                logger.warning("visibility extension failed", extra={"error": str(exc)})
            if self.on_beat is not None:
                try:
                    self.on_beat()
                except Exception as exc:  # a missed beat is not fatal: the bound is generous
                    logger.warning("job heartbeat failed", extra={"error": str(exc)})
