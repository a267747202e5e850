"""SQS -> Lambda: an SQS event source mapping (batching, FIFO order per message group as moto
enforces it, visibility timeout, ``ReportBatchItemFailures``; redrive to the DLQ after
``maxReceiveCount`` is moto's queue behaviour, unchanged)."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

from localcloud.event_sources.poller import Invoke, Poller, failed_item_ids, log
from localcloud.event_sources.wiring import EventSourceType, SamEvent, Wiring
from localcloud.runtime import FunctionError


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
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


class SqsEventSource(Poller):
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
        records = [sqs_record(m, self.queue_arn, self.region) for m in messages]
        self.batches += 1
        try:
            response = self.invoke(self.function, {"Records": records})
        except FunctionError as exc:
            log.warning("%s: batch of %d failed: %s", self.name, len(records), exc)
            return  # every message becomes visible again after its visibility timeout
        failed = failed_item_ids(response) if self.partial else set()
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


def wire(wiring: Wiring, event: SamEvent) -> SqsEventSource:
    props = event.props
    queue = wiring.provisioned.queue_by_arn(props["Queue"])
    return SqsEventSource(
        sqs=wiring.clients("sqs"),
        invoke=wiring.runtime.invoke,
        function=event.function.logical_id,
        queue_url=queue.url,
        queue_arn=queue.arn,
        region=wiring.region,
        batch_size=int(props.get("BatchSize", 10)),
        batching_window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
        report_batch_item_failures="ReportBatchItemFailures"
        in props.get("FunctionResponseTypes", []),
        # Lambda polls a standard queue with several pollers; FIFO order is kept by moto's
        # message-group locking either way.
        workers=1 if queue.fifo else 2,
    )


SOURCE = EventSourceType("SQS", wire)
