"""Per-shard ordered output stage: while the shard thread runs detection on frame n+1, this
thread writes frame n's outputs, sends its message and only then checkpoints it.

One worker and a FIFO queue keep stream order (checkpoints never move past an unsent frame; a
summary follows its video's last frame). After a failure the stage drops what is queued and
reports the error; the reader rewinds to ``last_checkpoint``, so nothing is lost.
"""

from __future__ import annotations

import queue
import threading
from typing import cast

from yolo_stream.checkpoints import CheckpointStore
from yolo_stream.frame_processor import FrameProcessor, Prepared
from yolo_stream.service_stats import ServiceStats

_STOP = object()


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
        self._error: BaseException | None = None
        # Set by the worker on a failure, cleared only by ``reset`` once the reader has drained
        # the queue: records queued behind a failed one must never be checkpointed.
        self._failed = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"output-{shard_id}", daemon=True)
        self._thread.start()

    def submit(self, prepared: Prepared, sequence_number: str) -> None:
        """Queue a record (blocks while ``depth`` records wait); raises the stage's error."""
        self.raise_error()
        self._queue.put((prepared, sequence_number))

    def drain(self) -> None:
        """Wait until everything submitted is sent and checkpointed (or dropped after an error)."""
        self._queue.join()
        self.raise_error()

    def raise_error(self) -> None:
        if self._failed.is_set():
            raise self._error or RuntimeError("output stage failed")

    def reset(self) -> None:
        """Forget a failure after ``drain``; the reader then rewinds to ``last_checkpoint``."""
        self._error = None
        self._failed.clear()

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                if self._failed.is_set():
                    continue  # dropped: the reader rewinds to the last checkpoint
                prepared, sequence_number = cast(tuple[Prepared, str], item)
                outcome = self._processor.finish(prepared)
                # Only now, with the message sent, may the position move past this record.
                self._store.checkpoint(self._key, sequence_number)
                self.last_checkpoint = sequence_number
                self._stats.outcome(outcome.kind)
                self._stats.shard(self._shard_id, last_sequence=sequence_number)
            except BaseException as exc:  # handed to the reader thread, which decides
                self._error = exc
                self._failed.set()
            finally:
                self._queue.task_done()
