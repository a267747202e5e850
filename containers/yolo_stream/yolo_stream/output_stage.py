"""Per-shard ordered output stage: while the shard thread runs detection on frame n+1, this
thread writes frame n's outputs, sends its message and only then checkpoints it.

One worker and a FIFO queue keep stream order (checkpoints never move past an unsent frame; a
summary follows its video's last frame). After a failure the stage drops what is queued and
reports the error; the reader rewinds to ``last_checkpoint``, so nothing is lost.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import cast

from yolo_stream.checkpoints import CheckpointStore
from yolo_stream.errors import LeaseLostError
from yolo_stream.frame_processor import FrameProcessor, Prepared
from yolo_stream.service_stats import ServiceStats

_STOP = object()


@dataclass(frozen=True)
class _Item:
    prepared: Prepared
    sequence_number: str
    data: bytes
    attempts: int | None  # attempts counted ahead for this record (None: not counted)


class RecordFailedError(Exception):
    """Processing one record failed (its compute half in the reader, or its outputs here); it
    carries what the consumer needs to count the attempt and, at the limit, give the record up."""

    def __init__(
        self, sequence_number: str, data: bytes, cause: BaseException, attempts: int | None
    ) -> None:
        super().__init__(f"record {sequence_number} failed: {type(cause).__name__}")
        self.sequence_number = sequence_number
        self.data = data
        self.cause = cause
        self.attempts = attempts


class OrderedOutputStage:
    def __init__(
        self,
        *,
        processor: FrameProcessor,
        store: CheckpointStore,
        key: str,
        shard_id: str,
        stats: ServiceStats,
        last_checkpoint: str | None,
        depth: int = 2,
    ) -> None:
        self._processor = processor
        self._store = store
        self._key = key
        self._shard_id = shard_id
        self._stats = stats
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self.last_checkpoint = last_checkpoint
        self.renewed_at = time.monotonic()  # the lease's last renewal (taking it, a checkpoint)
        self._error: BaseException | None = None
        self._failed_item: _Item | None = None
        # Set by the worker on a failure, cleared only by ``reset`` once the reader has drained
        # the queue: records queued behind a failed one must never be checkpointed.
        self._failed = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"output-{shard_id}", daemon=True)
        self._thread.start()

    def submit(
        self,
        prepared: Prepared,
        sequence_number: str,
        data: bytes = b"",
        attempts: int | None = None,
    ) -> None:
        """Queue a record (blocks while ``depth`` records wait); raises the stage's error."""
        self.raise_error()
        self._queue.put(_Item(prepared, sequence_number, data, attempts))

    def drain(self) -> None:
        """Wait until everything submitted is sent and checkpointed (or dropped after an error)."""
        self._queue.join()
        self.raise_error()

    def raise_error(self) -> None:
        """Raise a failure of the worker: ``LeaseLostError`` as is, anything else as the
        ``RecordFailedError`` of the record whose outputs failed."""
        if not self._failed.is_set():
            return
        error = self._error or RuntimeError("output stage failed")
        item = self._failed_item
        if isinstance(error, LeaseLostError) or item is None:
            raise error
        raise RecordFailedError(item.sequence_number, item.data, error, item.attempts) from error

    def reset(self) -> None:
        """Forget a failure after ``drain``; the reader then rewinds to ``last_checkpoint``."""
        self._error = None
        self._failed_item = None
        self._failed.clear()

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        while True:
            entry = self._queue.get()
            item: _Item | None = None
            try:
                if entry is _STOP:
                    return
                if self._failed.is_set():
                    continue  # dropped: the reader rewinds to the last checkpoint
                item = cast(_Item, entry)
                outcome = self._processor.finish(item.prepared)
                # Only now, with the message sent, may the position move past this record.
                self._store.checkpoint(self._key, item.sequence_number)
                self.last_checkpoint = item.sequence_number
                self.renewed_at = time.monotonic()
                self._stats.outcome(outcome.kind)
                self._stats.shard(self._shard_id, last_sequence=item.sequence_number)
            except BaseException as exc:  # handed to the reader thread, which decides
                self._error = exc
                self._failed_item = item
                self._failed.set()
            finally:
                self._queue.task_done()
