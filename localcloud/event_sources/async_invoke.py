"""Asynchronous invocation, for the events AWS invokes a function with asynchronously (S3
notifications, SNS): S3 or SNS deliver to an internal SQS queue of the local cloud; each event is
invoked with Lambda's async retry policy (``MaximumRetryAttempts``, default 2) and then goes to
the ``EventInvokeConfig`` on-failure destination (AWS's destination record) or the function's
dead-letter queue (the event itself)."""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from localcloud.event_sources.poller import Invoke, Poller, log
from localcloud.event_sources.wiring import Wiring
from localcloud.provisioned import Function
from localcloud.runtime import FunctionError


class AsyncEventSource(Poller):
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


def async_source(
    wiring: Wiring, function: Function, queue_url: str, unwrap: Callable[[str], Any | None]
) -> AsyncEventSource:
    """The poller of ``function``'s internal queue, with its on-failure destination or DLQ."""
    spec = wiring.runtime.spec(function.logical_id)
    invoke_config = spec.event_invoke
    destination = (invoke_config.get("DestinationConfig") or {}).get("OnFailure") or {}
    dlq = wiring.resolver.resolve(function.resource.properties.get("DeadLetterQueue") or {})
    failure_queue = None
    if destination.get("Type") == "SQS":
        failure_queue = wiring.provisioned.queue_by_arn(destination["Destination"]).url
    elif dlq.get("Type") == "SQS":
        failure_queue = wiring.provisioned.queue_by_arn(dlq["TargetArn"]).url
    sqs = wiring.clients("sqs")

    def on_failure(event: Any, error: FunctionError, attempts: int) -> None:
        if failure_queue is None:
            return
        if destination:
            body = {
                "version": "1.0",
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "requestContext": {
                    "requestId": secrets.token_hex(16),
                    "functionArn": f"{spec.arn}:$LATEST",
                    "condition": "RetriesExhausted",
                    "approximateInvokeCount": attempts,
                },
                "requestPayload": event,
                "responseContext": {
                    "statusCode": 200,
                    "executedVersion": "$LATEST",
                    "functionError": "Unhandled",
                },
                "responsePayload": error.payload(),
            }
        else:
            body = event
        sqs.send_message(QueueUrl=failure_queue, MessageBody=json.dumps(body))

    return AsyncEventSource(
        sqs=sqs,
        invoke=wiring.runtime.invoke,
        function=function.logical_id,
        function_arn=spec.arn,
        queue_url=queue_url,
        unwrap=unwrap,
        maximum_retry_attempts=int(invoke_config.get("MaximumRetryAttempts", 2)),
        on_failure=on_failure,
    )
