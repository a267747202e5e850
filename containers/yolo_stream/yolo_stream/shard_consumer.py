"""One thread per shard: lease, read from the checkpoint on, process, checkpoint, repeat."""

from __future__ import annotations

import threading
from typing import Any

from pipeline_common.observability import logger
from yolo_stream.checkpoints import CheckpointStore, shard_key
from yolo_stream.errors import LeaseLostError
from yolo_stream.frame_processor import FrameProcessor
from yolo_stream.output_stage import OrderedOutputStage
from yolo_stream.service_stats import ServiceStats

_THROTTLED = {"ProvisionedThroughputExceededException", "LimitExceededException"}
MAX_BACKOFF_SECONDS = 30.0


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
        self._start_position = start_position
        self._max_records = max_records
        self._poll_interval = poll_interval
        self._renew_every = renew_every
        self._key = shard_key(stream_name, shard_id)

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
        )
        try:
            self._consume(stage)
            stage.drain()  # the current frames finish: a stop never loses a sent message
        except LeaseLostError as exc:
            logger.warning("shard lease lost", extra={"shard_id": self.shard_id, "error": str(exc)})
            self._stats.shard(self.shard_id, state="leased-elsewhere")
            return
        finally:
            stage.close()
        if self.finished:
            self._store.mark_shard_end(self._key)
            self._stats.shard(self.shard_id, state="finished")
        else:
            self._store.release(self._key)

    def _consume(self, stage: OrderedOutputStage) -> None:
        iterator = self._iterator(stage.last_checkpoint)
        backoff = 0.0
        idle_since_renew = 0.0
        self._stats.shard(
            self.shard_id, state="reading", last_sequence=stage.last_checkpoint, error=None
        )
        while not self._stop_event.is_set():
            try:
                response = self._kinesis.get_records(
                    ShardIterator=iterator, Limit=self._max_records
                )
                for record in response["Records"]:
                    if self._stop_event.is_set():
                        return
                    prepared = self._processor.prepare(record["Data"], record["SequenceNumber"])
                    stage.submit(prepared, record["SequenceNumber"])
                self._stats.shard(
                    self.shard_id,
                    state="reading",
                    lag_ms=response.get("MillisBehindLatest"),
                    error=None,
                )
                backoff = 0.0
                iterator = response.get("NextShardIterator")
                if iterator is None:  # closed shard (resharding) fully read
                    self.finished = True
                    return
                if not response["Records"]:
                    stage.raise_error()
                    idle_since_renew += self._poll_interval
                    if idle_since_renew >= self._renew_every:
                        stage.drain()  # the output thread may be checkpointing (renews too)
                        self._store.renew(self._key)
                        idle_since_renew = 0.0
                    self._stop_event.wait(self._poll_interval)
            except LeaseLostError:
                raise
            except Exception as exc:
                # Kinesis, S3, SQS or DynamoDB failing beyond boto's own retries: nothing after
                # the last checkpoint counts as done, so reading again from there retries it.
                code = getattr(exc, "response", {}).get("Error", {}).get("Code")
                self._wait_for_stage(stage)
                if code != "ExpiredIteratorException":
                    backoff = self._back_off(backoff, exc, throttled=code in _THROTTLED)
                iterator = self._iterator(stage.last_checkpoint)

    def _wait_for_stage(self, stage: OrderedOutputStage) -> None:
        try:
            stage.drain()
        except LeaseLostError:
            raise
        except Exception:
            logger.exception("writing outputs failed", extra={"shard_id": self.shard_id})
        finally:
            stage.reset()

    def _back_off(self, backoff: float, exc: Exception, *, throttled: bool) -> float:
        backoff = min(max(backoff * 2, 0.5), MAX_BACKOFF_SECONDS)
        if not throttled:
            logger.exception(
                "shard read failed; retrying from checkpoint",
                extra={"shard_id": self.shard_id, "backoff_s": backoff},
            )
            self._stats.shard(self.shard_id, state="error", error=f"{type(exc).__name__}: {exc}")
        self._stop_event.wait(backoff)
        return backoff

    def _iterator(self, after: str | None) -> str:
        kwargs: dict[str, Any] = {"StreamName": self.stream_name, "ShardId": self.shard_id}
        if after:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=after)
        else:
            kwargs["ShardIteratorType"] = self._start_position
        return self._kinesis.get_shard_iterator(**kwargs)["ShardIterator"]
