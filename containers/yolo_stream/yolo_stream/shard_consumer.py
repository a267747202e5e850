"""One thread per leased shard: lease, read from the checkpoint on, process, checkpoint, repeat.

Delivery is at-least-once: the checkpoint moves only after a record's message was sent, so a
worker that dies re-reads (and re-sends) at most the records in flight. The replay is harmless:
the FIFO deduplication id is ``<video>:<frame>`` (``<video>:failed:<frame>`` for a failure) and the
S3 keys are deterministic, so SQS drops the second copy and the outputs are overwritten with the
same content.

No record stalls a shard. A record whose processing raises anything but an outage (throttling,
5xx, a lost connection: retried for ever with back-off, since no record is at fault) is retried
from the checkpoint and, after ``max_attempts`` attempts, published as a frame-level
``video.failed`` and checkpointed past. The attempts are counted in the lease item, not in memory:
after taking a lease or after a failure, the consumer processes records one at a time and counts
each attempt *before* it starts (``CAREFUL_RECORDS`` records, which cover every record that was in
flight), so a record that kills the process (a native crash, out of memory) is given up too: after
``max_attempts`` crashes, or one more when the first crash came in the pipelined fast path.

A lease is given back at a checkpoint boundary (``release_lease``: the frames already handed to
the output stage are sent and checkpointed first), so a rebalance loses and repeats nothing.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from pipeline_common.observability import logger
from yolo_stream.checkpoints import CheckpointStore, shard_key
from yolo_stream.decode_ahead import DecodeAhead
from yolo_stream.errors import LeaseLostError, short_error
from yolo_stream.frame_processor import FrameProcessor
from yolo_stream.output_stage import OrderedOutputStage, RecordFailedError
from yolo_stream.service_stats import ServiceStats

_THROTTLED = {
    "ProvisionedThroughputExceededException",
    "LimitExceededException",
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
}
_OUTAGE = _THROTTLED | {
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
    "KMSThrottlingException",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
}
MAX_BACKOFF_SECONDS = 30.0
# Records decoded ahead of the one in inference (``DECODE_AHEAD``'s default), and records waiting
# for the output thread: both bounded, so memory is, and back-pressure reaches GetRecords.
DECODE_AHEAD = 2
OUTPUT_DEPTH = 2


def careful_records(decode_ahead: int) -> int:
    """Records processed one at a time, attempts counted ahead, after taking a lease or a
    failure: enough to cover every record that was in flight (decoding ahead, in inference,
    queued for the output thread and in it)."""
    return decode_ahead + 1 + OUTPUT_DEPTH + 1


CAREFUL_RECORDS = careful_records(DECODE_AHEAD)


def is_outage(exc: BaseException) -> bool:
    """An error of the infrastructure rather than of the record: retried without counting."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return code in _OUTAGE or int(status) >= 500
    return isinstance(exc, BotoConnectionError | HTTPClientError | ConnectionError | TimeoutError)


class ShardConsumer(threading.Thread):
    def __init__(
        self,
        *,
        stream_name: str,
        shard_id: str,
        kinesis: Any,
        store: CheckpointStore,
        processor: FrameProcessor,
        stats: ServiceStats,
        stop: threading.Event,
        start_position: str,
        max_records: int,
        poll_interval: float,
        renew_every: float,
        max_attempts: int = 3,
        decode_ahead: int = DECODE_AHEAD,
    ) -> None:
        super().__init__(name=f"shard-{shard_id}", daemon=True)
        self.stream_name = stream_name
        self.shard_id = shard_id
        self.finished = False
        self._kinesis = kinesis
        self._store = store
        self._processor = processor
        self._stats = stats
        self._stop_event = stop
        self._release = threading.Event()
        self._start_position = start_position
        self._max_records = max_records
        self._poll_interval = poll_interval
        self._renew_every = renew_every
        self._max_attempts = max_attempts
        self._decode_ahead = decode_ahead
        self._careful_records = careful_records(decode_ahead)
        self._key = shard_key(stream_name, shard_id)

    def release_lease(self) -> None:
        """Give the shard back (rebalancing) after the records already in hand are checkpointed."""
        self._release.set()

    @property
    def releasing(self) -> bool:
        return self._release.is_set()

    def _leaving(self) -> bool:
        return self._stop_event.is_set() or self._release.is_set()

    def run(self) -> None:
        lease = self._store.acquire(self._key)
        if lease is None:
            self._stats.shard(self.shard_id, state="leased-elsewhere")
            return
        if lease.shard_end:
            self.finished = True
            self._stats.shard(self.shard_id, state="finished")
            return
        stage = OrderedOutputStage(
            processor=self._processor,
            store=self._store,
            key=self._key,
            shard_id=self.shard_id,
            stats=self._stats,
            last_checkpoint=lease.sequence_number,
            depth=OUTPUT_DEPTH,
        )
        ahead = DecodeAhead(self._processor.load, self.shard_id, self._decode_ahead)
        try:
            self._consume(stage, ahead)
            # The current frames finish: a stop never loses a sent message. A failure here
            # leaves the checkpoint before the failed record, where the next owner resumes.
            self._settle(stage)
        except LeaseLostError as exc:
            logger.warning("shard lease lost", extra={"shard_id": self.shard_id, "error": str(exc)})
            self._stats.shard(self.shard_id, state="leased-elsewhere")
            return
        finally:
            ahead.close()  # loads not taken are dropped: read again from the checkpoint
            stage.close()
        if self.finished:
            self._store.mark_shard_end(self._key)
            self._stats.shard(self.shard_id, state="finished")
        else:
            self._store.release(self._key)
            self._stats.shard(self.shard_id, state="released")

    def _consume(self, stage: OrderedOutputStage, ahead: DecodeAhead) -> None:
        iterator: str | None = None
        backoff = 0.0
        careful = self._careful_records  # the previous owner may have died on the next record
        self._stats.shard(
            self.shard_id, state="reading", last_sequence=stage.last_checkpoint, error=None
        )
        while not self._leaving():
            try:
                if iterator is None:  # at start and after a failure: from the checkpoint on
                    iterator = self._iterator(stage.last_checkpoint)
                response = self._kinesis.get_records(
                    ShardIterator=iterator, Limit=self._max_records
                )
                records = response["Records"]
                for i, record in enumerate(records):
                    if self._leaving():
                        return
                    # A careful record starts only once its attempt counts: loaded right here.
                    if careful == 0 and self._decode_ahead:
                        ahead.schedule(records[i : i + self._decode_ahead + 1])
                    careful = self._process(stage, ahead, record, careful)
                self._stats.shard(
                    self.shard_id,
                    state="reading",
                    lag_ms=response.get("MillisBehindLatest"),
                    error=None,
                )
                backoff = 0.0
                iterator = response.get("NextShardIterator")
                if iterator is None:  # closed shard (resharding) fully read
                    stage.drain()  # SHARD_END only once every record is checkpointed
                    self.finished = True
                    return
                if not response["Records"]:
                    stage.raise_error()
                    # Measured on the clock (a checkpoint renews too): counting poll intervals
                    # would let a slow GetRecords stretch the renewal past the lease.
                    if time.monotonic() - stage.renewed_at >= self._renew_every:
                        stage.drain()  # the output thread may be checkpointing (renews too)
                        self._store.renew(self._key)
                        stage.renewed_at = time.monotonic()
                    self._stop_event.wait(self._poll_interval)
            except LeaseLostError:
                raise
            except Exception as exc:
                # Nothing after the last checkpoint counts as done, so reading again from there
                # retries it; a record at fault is counted and, at the limit, given up.
                ahead.discard()
                backoff = self._recover(stage, exc, backoff)
                careful = self._careful_records
                iterator = None

    def _recover(self, stage: OrderedOutputStage, exc: Exception, backoff: float) -> float:
        """Settle the output stage after a failure, count or forgive the record at fault and
        back off; returns the next back-off. Only a lost lease escapes."""
        try:
            failed = self._settle(stage)
            if failed is None and isinstance(exc, RecordFailedError):
                failed = exc
            if failed is not None and not is_outage(failed.cause):
                return self._record_failed(stage, failed, backoff)
            if failed is not None and failed.attempts is not None:
                self._store.remove_attempt(self._key, failed.sequence_number)
            cause = failed.cause if failed is not None else exc
        except LeaseLostError:
            raise
        except Exception as error:  # DynamoDB itself failing: back off and read again
            cause = error
        code = getattr(cause, "response", {}).get("Error", {}).get("Code")
        if code == "ExpiredIteratorException":
            return backoff
        return self._back_off(backoff, cause, throttled=code in _THROTTLED)

    def _process(
        self, stage: OrderedOutputStage, ahead: DecodeAhead, record: dict[str, Any], careful: int
    ) -> int:
        """Hand one record through the three stages (loaded ahead or here, inference here,
        outputs on the output thread); returns the careful records still to go."""
        sequence_number, data = record["SequenceNumber"], record["Data"]
        attempts: int | None = None
        if careful > 0:
            # Counted before it starts: should this record take the process down, the next
            # owner still knows it was tried.
            attempts = self._store.add_attempt(self._key, sequence_number)
            if attempts > self._max_attempts:
                reason = (
                    f"gave up after {attempts - 1} attempts: processing never completed"
                    " (the worker stopped while processing this record)"
                )
                self._give_up(stage, data, sequence_number, reason)
                return careful - 1
        try:
            prepared = self._processor.detect(ahead.take(sequence_number, data))
        except LeaseLostError:
            raise
        except Exception as exc:
            raise RecordFailedError(sequence_number, data, exc, attempts) from exc
        stage.submit(prepared, sequence_number, data, attempts)
        if careful > 0:
            stage.drain()  # one at a time: a failure here is this record's
            return careful - 1
        return 0

    def _record_failed(
        self, stage: OrderedOutputStage, failed: RecordFailedError, backoff: float
    ) -> float:
        attempts = failed.attempts
        if attempts is None:
            attempts = self._store.add_attempt(self._key, failed.sequence_number)
        error = short_error(failed.cause)
        if attempts < self._max_attempts:
            logger.warning(
                "record failed; retrying from checkpoint",
                extra={
                    "shard_id": self.shard_id,
                    "sequence_number": failed.sequence_number,
                    "attempts": attempts,
                    "error": error,
                },
            )
            return self._back_off(backoff, failed.cause, throttled=False, quiet=True)
        reason = f"gave up after {attempts} attempts: {error}"
        try:
            self._give_up(stage, failed.data, failed.sequence_number, reason)
        except LeaseLostError:
            raise
        except Exception as exc:  # publishing the failure failed: the next pass gives up again
            self._settle(stage)
            return self._back_off(backoff, exc, throttled=False)
        return 0.0

    def _give_up(
        self, stage: OrderedOutputStage, data: bytes, sequence_number: str, reason: str
    ) -> None:
        logger.error(
            "record given up",
            extra={"shard_id": self.shard_id, "sequence_number": sequence_number, "reason": reason},
        )
        stage.submit(self._processor.abandon(data, sequence_number, reason), sequence_number, data)
        stage.drain()

    def _settle(self, stage: OrderedOutputStage) -> RecordFailedError | None:
        """Wait for the output stage and reset it; returns the record failure it had, if any."""
        try:
            stage.drain()
        except LeaseLostError:
            raise
        except RecordFailedError as failed:
            return failed
        except Exception:
            logger.exception("writing outputs failed", extra={"shard_id": self.shard_id})
        finally:
            stage.reset()
        return None

    def _back_off(
        self, backoff: float, exc: BaseException, *, throttled: bool, quiet: bool = False
    ) -> float:
        backoff = min(max(backoff * 2, 0.5), MAX_BACKOFF_SECONDS)
        if not throttled:
            if not quiet:
                logger.warning(
                    "shard read failed; retrying from checkpoint",
                    extra={
                        "shard_id": self.shard_id,
                        "backoff_s": backoff,
                        "error": short_error(exc),
                    },
                )
            self._stats.shard(self.shard_id, state="error", error=type(exc).__name__)
        self._pause(backoff)
        return backoff

    def _pause(self, seconds: float) -> None:
        """Sleep, waking early for a stop or a lease to give back."""
        deadline = time.monotonic() + seconds
        while not self._leaving():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._stop_event.wait(min(left, 0.25))

    def _iterator(self, after: str | None) -> str:
        kwargs: dict[str, Any] = {"StreamName": self.stream_name, "ShardId": self.shard_id}
        if after:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=after)
        else:
            kwargs["ShardIteratorType"] = self._start_position
        return self._kinesis.get_shard_iterator(**kwargs)["ShardIterator"]
