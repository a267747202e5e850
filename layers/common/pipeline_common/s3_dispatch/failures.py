"""The one failure path of a dispatcher.

Two kinds of failure, told apart:

- a *rejected* object (wrong extension, empty, too large) is settled at once: one FAILED
  message on the pipeline's queue says why, and nothing is retried (it would fail again);
- an object that could not be *dispatched* (a broken record, a body that is not an S3 event,
  Step Functions unreachable) is retried by the platform. From SQS, its message id is returned
  in ``batchItemFailures`` (Lambda's partial batch response: the queue redelivers it, then
  dead-letters it); from S3 directly, ``DispatchFailed`` is raised once every record was tried
  (Lambda's async retries, then the function's on-failure destination). Re-running what did
  succeed is harmless: the execution names already exist.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel

from pipeline_common.aws import client, string_attributes


class DispatchFailed(Exception):
    """Some records of a direct S3 invocation failed: raised so Lambda retries the event."""

    def __init__(self, failed: list[str], total: int) -> None:
        self.failed = failed
        super().__init__(f"{len(failed)} of {total} records failed: {', '.join(failed)}")


class Failures:
    """What could not be dispatched in one invocation, and the SQS messages that brought it."""

    def __init__(self) -> None:
        self.labels: list[str] = []
        self._message_ids: set[str] = set()

    def add(self, label: str, message_id: str | None) -> None:
        self.labels.append(label)
        if message_id:
            self._message_ids.add(message_id)

    def settle(self, total: int) -> list[str]:
        """The SQS message ids to retry (sorted); raises ``DispatchFailed`` when a direct S3
        invocation had failures. ``total`` counts every record handled, failed or not."""
        if self.labels and not self._message_ids:
            raise DispatchFailed(self.labels, total=total)
        return sorted(self._message_ids)


def report_rejection(
    queue_url: str,
    message: BaseModel,
    *,
    attributes: Mapping[str, str] | None = None,
    fifo_ids: tuple[str, str] | None = None,
) -> None:
    """Send a rejected object's FAILED message to the pipeline's queue: with string message
    attributes (a standard queue filtered by them), or with its (group, deduplication) ids on a
    FIFO queue, where a redelivered notification's rejection is dropped as a duplicate."""
    request: dict[str, object] = {"QueueUrl": queue_url, "MessageBody": message.model_dump_json()}
    if attributes:
        request["MessageAttributes"] = string_attributes(**attributes)
    if fifo_ids is not None:
        request["MessageGroupId"], request["MessageDeduplicationId"] = fifo_ids
    client("sqs").send_message(**request)
