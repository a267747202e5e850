"""Lambda event sources: the pollers AWS runs on a function's behalf.

- ``SqsEventSource``: an SQS event source mapping (batching, FIFO order per message group as moto
  enforces it, visibility timeout, ``ReportBatchItemFailures``; redrive to the DLQ after
  ``maxReceiveCount`` is moto's queue behaviour, unchanged).
- ``KinesisEventSource``: a Kinesis mapping (one iterator per shard, batch size, checkpoint only
  after success, partial batch responses restart at the failed record, bounded retries then the
  on-failure destination).
- ``DynamoDBStreamEventSource``: a DynamoDB stream mapping (moto's ``dynamodbstreams``; one
  iterator per shard, ``FilterCriteria``, batch size, checkpoint only after success, partial batch
  responses, ``BisectBatchOnFunctionError``, bounded retries then the on-failure destination).
- ``ScheduleEventSource``: a SAM ``Schedule`` event (an EventBridge rule with a ``rate(...)``
  expression): the function is invoked asynchronously with a ``Scheduled Event`` every period,
  the first one period after the start, as EventBridge does.
- ``AsyncEventSource``: asynchronous invocation (S3 notifications, SNS): S3/SNS deliver to an
  internal SQS queue of the local cloud; each event is invoked with Lambda's async retry policy
  (``MaximumRetryAttempts``, default 2) and then goes to the on-failure destination or the
  function's dead-letter queue.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from localcloud.event_filter import EventFilter
from localcloud.runtime import FunctionError
from localcloud.ttl_sweeper import TTL_USER_IDENTITY

log = logging.getLogger("localcloud.events")
Invoke = Callable[[str, Any], Any]


class _Poller:
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


def _sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    attributes = {k: v for k, v in message.get("Attributes", {}).items()}
    message_attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": base64.b64encode(value["BinaryValue"]).decode()
            if "BinaryValue" in value
            else None,
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value["DataType"],
        }
        for name, value in message.get("MessageAttributes", {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _failed_item_ids(response: Any) -> set[str] | None:
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


class SqsEventSource(_Poller):
    def __init__(
        self,
        *,
        sqs: Any,
        invoke: Invoke,
        function: str,
        queue_url: str,
        queue_arn: str,
        region: str,
        batch_size: int = 10,
        batching_window_seconds: float = 0.0,
        report_batch_item_failures: bool = False,
        workers: int = 1,
    ) -> None:
        super().__init__()
        self.workers = workers
        self.name = f"sqs:{queue_arn.rsplit(':', 1)[-1]}->{function}"
        self.sqs = sqs
        self.invoke = invoke
        self.function = function
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.region = region
        self.batch_size = batch_size
        self.window = batching_window_seconds
        self.partial = report_batch_item_failures
        self.batches = 0

    def _receive(self) -> list[dict[str, Any]]:
        """One batch as Lambda's poller gathers it: up to ``batch_size`` messages; with a
        batching window, the first message opens the window and the batch is invoked when it is
        full or the window has passed (without one, whatever one round of receives gives)."""
        messages: list[dict[str, Any]] = []
        deadline: float | None = None
        while len(messages) < self.batch_size and not self._stop.is_set():
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            wait = 1 if remaining is None else min(1, max(0, int(remaining)))
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.batch_size - len(messages)),
                WaitTimeSeconds=0 if messages and self.window <= 0 else wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            got = response.get("Messages", [])
            if got and deadline is None:
                deadline = time.monotonic() + self.window
            messages.extend(got)
            if not got and (self.window <= 0 or not messages):
                break
            if not got:
                # Inside the window with nothing new: wait a little (the receive did not block
                # when less than a second was left).
                self._stop.wait(min(0.1, max(0.0, deadline - time.monotonic())))  # type: ignore[operator]
        return messages

    def poll_once(self) -> None:
        messages = self._receive()
        if not messages:
            return
        records = [_sqs_record(m, self.queue_arn, self.region) for m in messages]
        self.batches += 1
        try:
            response = self.invoke(self.function, {"Records": records})
        except FunctionError as exc:
            log.warning("%s: batch of %d failed: %s", self.name, len(records), exc)
            return  # every message becomes visible again after its visibility timeout
        failed = _failed_item_ids(response) if self.partial else set()
        if failed is None:
            log.warning("%s: invalid batchItemFailures response; whole batch retried", self.name)
            return
        done = [r for r in records if r["messageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)
                ],
            )


class KinesisEventSource(_Poller):
    def __init__(
        self,
        *,
        kinesis: Any,
        sqs: Any,
        invoke: Invoke,
        function: str,
        function_arn: str,
        stream_name: str,
        stream_arn: str,
        region: str,
        starting_position: str = "LATEST",
        batch_size: int = 100,
        report_batch_item_failures: bool = False,
        maximum_retry_attempts: int = 3,
        on_failure_queue_url: str | None = None,
    ) -> None:
        super().__init__()
        self.name = f"kinesis:{stream_name}->{function}"
        self.kinesis = kinesis
        self.sqs = sqs
        self.invoke = invoke
        self.function = function
        self.function_arn = function_arn
        self.stream_name = stream_name
        self.stream_arn = stream_arn
        self.region = region
        self.starting_position = starting_position
        self.batch_size = batch_size
        self.partial = report_batch_item_failures
        # -1 means "until the record expires" on AWS; locally that would be forever.
        self.max_retries = maximum_retry_attempts if maximum_retry_attempts >= 0 else 10
        self.on_failure_queue_url = on_failure_queue_url
        self.checkpoints: dict[str, str] = {}  # shard id -> last sequence number processed
        self._iterators: dict[str, str] = {}

    def _iterator(self, shard_id: str) -> str:
        if shard_id not in self._iterators:
            checkpoint = self.checkpoints.get(shard_id)
            kwargs: dict[str, Any] = {"StreamName": self.stream_name, "ShardId": shard_id}
            if checkpoint:
                kwargs |= {
                    "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                    "StartingSequenceNumber": checkpoint,
                }
            else:
                kwargs["ShardIteratorType"] = self.starting_position
            self._iterators[shard_id] = self.kinesis.get_shard_iterator(**kwargs)["ShardIterator"]
        return self._iterators[shard_id]

    def _record(self, shard_id: str, record: dict[str, Any]) -> dict[str, Any]:
        arrival = record.get("ApproximateArrivalTimestamp")
        return {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": record["PartitionKey"],
                "sequenceNumber": record["SequenceNumber"],
                "data": base64.b64encode(record["Data"]).decode(),
                "approximateArrivalTimestamp": arrival.timestamp() if arrival else time.time(),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{shard_id}:{record['SequenceNumber']}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": f"{self.function_arn}-role",
            "awsRegion": self.region,
            "eventSourceARN": self.stream_arn,
        }

    def poll_once(self) -> None:
        shards = self.kinesis.list_shards(StreamName=self.stream_name)["Shards"]
        idle = True
        for shard in shards:
            shard_id = shard["ShardId"]
            response = self.kinesis.get_records(
                ShardIterator=self._iterator(shard_id), Limit=self.batch_size
            )
            self._iterators[shard_id] = response["NextShardIterator"]
            if response["Records"]:
                idle = False
                self._deliver(shard_id, response["Records"])
        if idle:
            self._stop.wait(0.5)

    def _deliver(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        attempts = 0
        pending = records
        while pending and not self._stop.is_set():
            event = {"Records": [self._record(shard_id, r) for r in pending]}
            try:
                response = self.invoke(self.function, event)
                failed = _failed_item_ids(response) if self.partial else set()
            except FunctionError as exc:
                log.warning("%s: batch failed: %s", self.name, exc)
                failed = None
            if failed == set():
                self.checkpoints[shard_id] = pending[-1]["SequenceNumber"]
                return
            first_failed = 0
            if failed:
                sequence_numbers = [r["SequenceNumber"] for r in pending]
                first_failed = min(
                    (sequence_numbers.index(s) for s in failed if s in sequence_numbers), default=0
                )
                if first_failed:
                    self.checkpoints[shard_id] = pending[first_failed - 1]["SequenceNumber"]
            pending = pending[first_failed:]
            attempts += 1
            if attempts > self.max_retries:
                self._discard(shard_id, pending)
                self.checkpoints[shard_id] = pending[-1]["SequenceNumber"]
                return
            self._stop.wait(min(2**attempts * 0.1, 2.0))

    def _discard(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        log.error("%s: %d record(s) discarded after retries", self.name, len(records))
        if not self.on_failure_queue_url:
            return
        body = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.function_arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": self.max_retries + 1,
            },
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "KinesisBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": records[0]["SequenceNumber"],
                "endSequenceNumber": records[-1]["SequenceNumber"],
                "batchSize": len(records),
                "streamArn": self.stream_arn,
            },
        }
        self.sqs.send_message(QueueUrl=self.on_failure_queue_url, MessageBody=json.dumps(body))


class DynamoDBStreamEventSource(_Poller):
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

    def poll_once(self) -> None:
        description = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        idle = True
        for shard in description.get("Shards", []):
            shard_id = shard["ShardId"]
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
        failed = _failed_item_ids(response) if self.partial else set()
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
        body = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.function_arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": _sequence(records[0]),
                "endSequenceNumber": _sequence(records[-1]),
                "approximateArrivalOfFirstRecord": _arrival(records[0]),
                "approximateArrivalOfLastRecord": _arrival(records[-1]),
                "batchSize": len(records),
                "streamArn": self.stream_arn,
            },
        }
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


class AsyncEventSource(_Poller):
    """Events AWS would invoke asynchronously, delivered here through an internal queue."""

    def __init__(
        self,
        *,
        sqs: Any,
        invoke: Invoke,
        function: str,
        function_arn: str,
        queue_url: str,
        unwrap: Callable[[str], Any | None],
        maximum_retry_attempts: int = 2,
        retry_delay_seconds: float = 1.0,
        on_failure: Callable[[Any, FunctionError, int], None] | None = None,
        on_success: Callable[[Any, Any], None] | None = None,
    ) -> None:
        super().__init__()
        self.name = f"async->{function}"
        self.sqs = sqs
        self.invoke = invoke
        self.function = function
        self.function_arn = function_arn
        self.queue_url = queue_url
        self.unwrap = unwrap
        self.max_retries = maximum_retry_attempts
        self.retry_delay = retry_delay_seconds
        self.on_failure = on_failure
        self.on_success = on_success
        self.delivered = 0

    def poll_once(self) -> None:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        for message in response.get("Messages", []):
            event = self.unwrap(message["Body"])
            if event is not None:
                self._invoke_with_retries(event)
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _invoke_with_retries(self, event: Any) -> None:
        for attempt in range(self.max_retries + 1):
            try:
                result = self.invoke(self.function, event)
            except FunctionError as exc:
                log.warning("%s: attempt %d failed: %s", self.name, attempt + 1, exc)
                if attempt == self.max_retries:
                    if self.on_failure:
                        with contextlib.suppress(Exception):
                            self.on_failure(event, exc, attempt + 1)
                    return
                self._stop.wait(self.retry_delay * (attempt + 1))
            else:
                self.delivered += 1
                if self.on_success:
                    with contextlib.suppress(Exception):
                        self.on_success(event, result)
                return


_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86_400}


def rate_seconds(expression: str) -> int | None:
    """Seconds of an EventBridge ``rate(N unit)`` expression; None for anything else."""
    found = _RATE.match(expression.strip())
    if not found or int(found.group(1)) < 1:
        return None
    return int(found.group(1)) * _UNIT_SECONDS[found.group(2).rstrip("s")]


class ScheduleEventSource(_Poller):
    """A scheduled rule: an EventBridge ``Scheduled Event`` every ``period_seconds``."""

    def __init__(
        self,
        *,
        invoke: Invoke,
        function: str,
        rule_arn: str,
        region: str,
        account_id: str,
        period_seconds: float,
    ) -> None:
        super().__init__()
        self.name = f"schedule->{function}"
        self.invoke = invoke
        self.function = function
        self.rule_arn = rule_arn
        self.region = region
        self.account_id = account_id
        self.period = period_seconds
        self.delivered = 0

    def event(self) -> dict[str, Any]:
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.account_id,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [self.rule_arn],
            "detail": {},
        }

    def poll_once(self) -> None:
        if self._stop.wait(self.period):
            return
        try:
            self.invoke(self.function, self.event())
            self.delivered += 1
        except FunctionError as exc:  # EventBridge retries; the next period does the same
            log.warning("%s: scheduled invocation failed: %s", self.name, exc)


def unwrap_s3_notification(body: str) -> Any | None:
    """An S3 notification as Lambda receives it; S3's queue-only ``s3:TestEvent`` is dropped."""
    event = json.loads(body)
    if event.get("Event") == "s3:TestEvent":
        return None
    return event


def unwrap_sns_notification(body: str, topic_arn: str, subscription_arn: str) -> Any:
    """An SNS message (delivered to the internal queue as an envelope) as Lambda receives it."""
    envelope = json.loads(body)
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": {
                    "Type": envelope.get("Type", "Notification"),
                    "MessageId": envelope.get("MessageId", str(uuid.uuid4())),
                    "TopicArn": envelope.get("TopicArn", topic_arn),
                    "Subject": envelope.get("Subject"),
                    "Message": envelope.get("Message", body),
                    "Timestamp": envelope.get("Timestamp", datetime.now(UTC).isoformat()),
                    "MessageAttributes": envelope.get("MessageAttributes", {}),
                },
            }
        ]
    }
