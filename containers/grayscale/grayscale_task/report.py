"""The one message per object on ``ImageProcessingQueue``."""

from __future__ import annotations

from pipeline_common.aws import client
from pipeline_common.contracts.image import ImageProcessingResult


def send_result(queue_url: str, result: ImageProcessingResult) -> None:
    client("sqs").send_message(
        QueueUrl=queue_url,
        MessageBody=result.model_dump_json(),
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": result.kind},
            "status": {"DataType": "String", "StringValue": result.status.value},
        },
    )
