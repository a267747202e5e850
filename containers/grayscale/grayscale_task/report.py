"""The one message per object on ``ImageProcessingQueue`` and, when configured, the same result
stored next to the output (a deterministic key, so a retry overwrites it)."""

from __future__ import annotations

from pipeline_common.aws import client, string_attributes
from pipeline_common.contracts.image import ImageProcessingResult


def send_result(queue_url: str, result: ImageProcessingResult) -> None:
    client("sqs").send_message(
        QueueUrl=queue_url,
        MessageBody=result.model_dump_json(),
        MessageAttributes=string_attributes(kind=result.kind, status=result.status.value),
    )


def store_result(bucket: str, prefix: str, result: ImageProcessingResult) -> None:
    """Written before the message is sent: if this fails the task crashes (exit 1) and the state
    machine reports it, so the queue still gets exactly one message per object."""
    client("s3").put_object(
        Bucket=bucket,
        Key=f"{prefix}{result.input.key}.json",
        Body=result.model_dump_json().encode(),
        ContentType="application/json",
    )
