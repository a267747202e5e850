"""Per-shard decode stage: while the shard thread runs inference on record n, one thread parses,
fetches and decodes records n+1 .. n+``ahead`` of the same GetRecords batch.

The shard thread takes the results back in stream order (``take``), so the order per shard, and
with it per video, is that of the stream; a load that raised raises there, for its own record.
At most ``ahead`` records wait beyond the one being taken: the decoded frames held in memory
are bounded, and so are the records started but not checkpointed, which the consumer's careful
restart has to cover. Nothing here sends or checkpoints anything: what is discarded (after a
failure, at a stop, when a lease is given back) is read again from the checkpoint by whoever
holds the lease next.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from yolo_stream.frame_processor import Prepared

Load = Callable[[bytes, str], Prepared]


class DecodeAhead:
    def __init__(self, load: Load, shard_id: str, ahead: int = 2) -> None:
        self._load = load
        self._ahead = ahead
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"decode-{shard_id}")
        self._pending: deque[tuple[str, Future[Prepared]]] = deque()

    @property
    def pending(self) -> int:
        """Records submitted and not taken yet (the one about to be taken included)."""
        return len(self._pending)

    def schedule(self, records: Sequence[dict[str, Any]]) -> None:
        """Start loading ``records`` (the next ones of the batch, in stream order) that are not
        pending yet, up to the bound."""
        queued = {sequence for sequence, _ in self._pending}
        for record in records:
            if len(self._pending) > self._ahead:
                return
            sequence_number = record["SequenceNumber"]
            if sequence_number not in queued:
                future = self._pool.submit(self._load, record["Data"], sequence_number)
                self._pending.append((sequence_number, future))

    def take(self, sequence_number: str, data: bytes) -> Prepared:
        """This record loaded: from the decode thread when it was scheduled (raising what its
        load raised), on the caller's thread otherwise (the careful path, or out of order
        after a rewind, when whatever was pending is discarded first)."""
        if self._pending and self._pending[0][0] == sequence_number:
            return self._pending.popleft()[1].result()
        self.discard()
        return self._load(data, sequence_number)

    def discard(self) -> None:
        """Forget every pending load; one already running finishes and is dropped."""
        while self._pending:
            self._pending.popleft()[1].cancel()

    def close(self) -> None:
        self.discard()
        self._pool.shutdown(wait=True, cancel_futures=True)
