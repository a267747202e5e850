"""Kinesis -> Lambda: a Kinesis event source mapping (one iterator per shard, batch size,
checkpoint only after success, partial batch responses restart at the failed record, bounded
retries then the on-failure destination)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from localcloud.event_sources.poller import (
    Invoke,
    Poller,
    failed_item_ids,
    log,
    retries_exhausted,
)
from localcloud.event_sources.wiring import EventSourceType, SamEvent, Wiring
from localcloud.runtime import FunctionError


class KinesisEventSource(Poller):
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
                failed = failed_item_ids(response) if self.partial else set()
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
        body = retries_exhausted(
            self.function_arn,
            self.max_retries + 1,
            batch_info=(
                "KinesisBatchInfo",
                {
                    "shardId": shard_id,
                    "startSequenceNumber": records[0]["SequenceNumber"],
                    "endSequenceNumber": records[-1]["SequenceNumber"],
                    "batchSize": len(records),
                    "streamArn": self.stream_arn,
                },
            ),
        )
        self.sqs.send_message(QueueUrl=self.on_failure_queue_url, MessageBody=json.dumps(body))


def wire(wiring: Wiring, event: SamEvent) -> KinesisEventSource:
    props = event.props
    stream_arn = props["Stream"]
    stream = next(s for s in wiring.provisioned.streams.values() if s.arn == stream_arn)
    return KinesisEventSource(
        kinesis=wiring.clients("kinesis"),
        sqs=wiring.clients("sqs"),
        invoke=wiring.runtime.invoke,
        function=event.function.logical_id,
        function_arn=event.function.arn,
        stream_name=stream.name,
        stream_arn=stream_arn,
        region=wiring.region,
        starting_position=props.get("StartingPosition", "LATEST"),
        batch_size=int(props.get("BatchSize", 100)),
        report_batch_item_failures="ReportBatchItemFailures"
        in props.get("FunctionResponseTypes", []),
        maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
        on_failure_queue_url=wiring.on_failure_queue_url(props),
    )


SOURCE = EventSourceType("Kinesis", wire)
