"""DynamoDB stream -> Lambda: a DynamoDB stream event source mapping (moto's
``dynamodbstreams``; one iterator per shard, ``FilterCriteria``, batch size, checkpoint only after
success, partial batch responses, ``BisectBatchOnFunctionError``, bounded retries then the
on-failure destination)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from localcloud.errors import TemplateError
from localcloud.event_filter import EventFilter
from localcloud.event_sources.poller import (
    Invoke,
    Poller,
    failed_item_ids,
    log,
    retries_exhausted,
)
from localcloud.event_sources.wiring import EventSourceType, SamEvent, Wiring
from localcloud.provisioned import STREAMLESS_TABLE_STREAM_SUFFIX
from localcloud.runtime import FunctionError
from localcloud.ttl_sweeper import TTL_USER_IDENTITY

#: How often a mapping lists its stream's shards again (moto's streams have one, never split).
SHARD_REFRESH_SECONDS = 10.0


class DynamoDBStreamEventSource(Poller):
    """A DynamoDB stream event source mapping, polling moto's ``dynamodbstreams`` per shard.

    Records reach the function as Lambda shows them (``eventName``, ``dynamodb`` with numeric
    ``ApproximateCreationDateTime``, ``eventSourceARN``). moto writes stream records for
    ``PutItem``/``UpdateItem``/``DeleteItem`` but never a ``userIdentity``, which AWS adds to
    TTL deletions only; ``ttl_deletions`` (the local TTL sweeper's ``claim``) says which
    REMOVEs were its deletions, and those get TTL's ``userIdentity`` here.

    Failures: a batch whose invocation fails is split in two when ``BisectBatchOnFunctionError``
    is on (each half retried in order; a split is not counted as a retry) down to single
    records; a partial batch response checkpoints before the first failed record and retries the
    rest as one batch (AWS: "bisected at the returned sequence number"); each retry counts
    against ``MaximumRetryAttempts`` (-1, AWS's "until the record expires", is 10 here), then
    the batch goes to the on-failure destination as a ``DDBStreamBatchInfo`` record and the
    shard moves on.
    """

    def __init__(
        self,
        *,
        streams: Any,
        sqs: Any,
        invoke: Invoke,
        function: str,
        function_arn: str,
        stream_arn: str,
        region: str,
        starting_position: str = "LATEST",
        batch_size: int = 100,
        event_filter: EventFilter | None = None,
        report_batch_item_failures: bool = False,
        bisect_on_error: bool = False,
        maximum_retry_attempts: int = -1,
        on_failure_queue_url: str | None = None,
        ttl_deletions: Callable[[str, dict[str, Any]], bool] | None = None,
        idle_wait_seconds: float = 0.25,
    ) -> None:
        super().__init__()
        self.table = stream_arn.split(":table/", 1)[-1].split("/", 1)[0]
        self.name = f"dynamodb:{self.table}->{function}"
        self.streams = streams
        self.sqs = sqs
        self.invoke = invoke
        self.function = function
        self.function_arn = function_arn
        self.stream_arn = stream_arn
        self.region = region
        self.starting_position = starting_position
        self.batch_size = min(batch_size, 1000)  # GetRecords returns at most 1000
        self.filter = event_filter or EventFilter([])
        self.partial = report_batch_item_failures
        self.bisect = bisect_on_error
        self.max_retries = maximum_retry_attempts if maximum_retry_attempts >= 0 else 10
        self.on_failure_queue_url = on_failure_queue_url
        self.idle_wait = idle_wait_seconds
        self.ttl_deletions = ttl_deletions
        self.checkpoints: dict[str, str] = {}  # shard id -> last sequence number processed
        self.invocations = 0
        self._iterators: dict[str, str | None] = {}  # None: a closed shard, read to its end
        self._shards: list[str] = []
        self._described_at = 0.0

    def _iterator(self, shard_id: str) -> str:
        iterator = self._iterators.get(shard_id)
        if iterator is None:
            kwargs: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard_id}
            checkpoint = self.checkpoints.get(shard_id)
            if checkpoint:
                kwargs["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
                kwargs["SequenceNumber"] = checkpoint
            else:
                kwargs["ShardIteratorType"] = self.starting_position
            iterator = str(self.streams.get_shard_iterator(**kwargs)["ShardIterator"])
            self._iterators[shard_id] = iterator
        return iterator

    def lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """A stream record as Lambda passes it (JSON: dates as epoch seconds, binary base64)."""
        event = _json_safe(record)
        created = record.get("dynamodb", {}).get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            event["dynamodb"]["ApproximateCreationDateTime"] = int(created.timestamp())
        event.setdefault("eventVersion", "1.1")
        keys = event.get("dynamodb", {}).get("Keys", {})
        if (
            event.get("eventName") == "REMOVE"
            and self.ttl_deletions is not None
            and self.ttl_deletions(self.table, keys)
        ):
            event["userIdentity"] = dict(TTL_USER_IDENTITY)
        event["eventSourceARN"] = self.stream_arn
        return event

    def _shard_ids(self) -> list[str]:
        """The stream's shards, described again every ``SHARD_REFRESH_SECONDS`` (Lambda's poller
        discovers new shards periodically too, not before every read) or while there are none."""
        now = time.monotonic()
        if not self._shards or now - self._described_at >= SHARD_REFRESH_SECONDS:
            described = self.streams.describe_stream(StreamArn=self.stream_arn)
            self._shards = [s["ShardId"] for s in described["StreamDescription"].get("Shards", [])]
            self._described_at = now
        return self._shards

    def poll_once(self) -> None:
        idle = True
        for shard_id in self._shard_ids():
            if shard_id in self._iterators and self._iterators[shard_id] is None:
                continue
            response = self.streams.get_records(
                ShardIterator=self._iterator(shard_id), Limit=self.batch_size
            )
            self._iterators[shard_id] = response.get("NextShardIterator")
            records = response.get("Records", [])
            if records:
                idle = False
                self._deliver(shard_id, [self.lambda_record(r) for r in records])
        if idle:
            self._stop.wait(self.idle_wait)

    def _deliver(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        """Deliver a batch read from ``shard_id``; the checkpoint ends after its last record."""
        wanted = [r for r in records if self.filter.matches(r)]
        work: list[tuple[list[dict[str, Any]], int]] = [(wanted, 0)] if wanted else []
        while work and not self._stop.is_set():
            batch, attempts = work.pop(0)
            first_failed = self._invoke(batch)
            if first_failed is None:
                self.checkpoints[shard_id] = _sequence(batch[-1])
                continue
            if first_failed < 0 and self.bisect and len(batch) > 1:
                half = (len(batch) + 1) // 2
                work[0:0] = [(batch[:half], attempts), (batch[half:], attempts)]
                continue
            if first_failed > 0:
                self.checkpoints[shard_id] = _sequence(batch[first_failed - 1])
            remaining = batch[max(first_failed, 0) :]
            attempts += 1
            if attempts > self.max_retries:
                self._discard(shard_id, remaining, attempts)
                self.checkpoints[shard_id] = _sequence(remaining[-1])
                continue
            self._stop.wait(min(2**attempts * 0.1, 2.0))
            work.insert(0, (remaining, attempts))
        if not self._stop.is_set():
            self.checkpoints[shard_id] = _sequence(records[-1])

    def _invoke(self, batch: list[dict[str, Any]]) -> int | None:
        """None: every record succeeded; the index of the first failed record of a partial
        batch response; -1: the whole batch failed (an error or an invalid response)."""
        self.invocations += 1
        try:
            response = self.invoke(self.function, {"Records": batch})
        except FunctionError as exc:
            log.warning("%s: batch of %d failed: %s", self.name, len(batch), exc)
            return -1
        failed = failed_item_ids(response) if self.partial else set()
        if failed is None:
            log.warning("%s: invalid batchItemFailures response; whole batch retried", self.name)
            return -1
        if not failed:
            return None
        sequence_numbers = [_sequence(r) for r in batch]
        indexes = [sequence_numbers.index(s) for s in failed if s in sequence_numbers]
        if not indexes:
            log.warning("%s: batchItemFailures names no record of the batch", self.name)
            return -1
        return min(indexes)

    def _discard(self, shard_id: str, records: list[dict[str, Any]], attempts: int) -> None:
        log.error("%s: %d record(s) discarded after retries", self.name, len(records))
        if not self.on_failure_queue_url:
            return
        body = retries_exhausted(
            self.function_arn,
            attempts,
            response_context={
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            batch_info=(
                "DDBStreamBatchInfo",
                {
                    "shardId": shard_id,
                    "startSequenceNumber": _sequence(records[0]),
                    "endSequenceNumber": _sequence(records[-1]),
                    "approximateArrivalOfFirstRecord": _arrival(records[0]),
                    "approximateArrivalOfLastRecord": _arrival(records[-1]),
                    "batchSize": len(records),
                    "streamArn": self.stream_arn,
                },
            ),
        )
        self.sqs.send_message(QueueUrl=self.on_failure_queue_url, MessageBody=json.dumps(body))


def _sequence(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def _arrival(record: dict[str, Any]) -> str:
    created = record["dynamodb"].get("ApproximateCreationDateTime") or time.time()
    return datetime.fromtimestamp(float(created), UTC).isoformat()


def _json_safe(value: Any) -> Any:
    """boto3's parsed response back to the JSON Lambda sends (bytes -> base64, dates -> epoch)."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return value.timestamp()
    return value


def wire(wiring: Wiring, event: SamEvent) -> DynamoDBStreamEventSource:
    """A SAM ``DynamoDB`` event: the table's stream polled like Lambda's mapping does."""
    props = event.props
    stream_arn = str(props["Stream"])
    if stream_arn.endswith(STREAMLESS_TABLE_STREAM_SUFFIX):
        raise TemplateError(
            f"{event.where}: Stream {stream_arn} is the StreamArn of a table "
            "without a StreamSpecification"
        )
    return DynamoDBStreamEventSource(
        streams=wiring.clients("dynamodbstreams"),
        sqs=wiring.clients("sqs"),
        invoke=wiring.runtime.invoke,
        function=event.function.logical_id,
        function_arn=event.function.arn,
        stream_arn=stream_arn,
        region=wiring.region,
        starting_position=str(props.get("StartingPosition", "LATEST")),
        batch_size=int(props.get("BatchSize", 100)),
        event_filter=EventFilter.from_criteria(props.get("FilterCriteria"), where=event.where),
        report_batch_item_failures="ReportBatchItemFailures"
        in props.get("FunctionResponseTypes", []),
        bisect_on_error=str(props.get("BisectBatchOnFunctionError", False)).lower() == "true",
        maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
        on_failure_queue_url=wiring.on_failure_queue_url(props),
        ttl_deletions=wiring.ttl_deletions,
    )


SOURCE = EventSourceType("DynamoDB", wire)
