"""Drive the image pipeline: upload real photos as the demo user (``POST /uploads`` and a
presigned POST), wait for their metrics messages."""

from __future__ import annotations

import json
import time
from typing import Any

from clients.auth import TokenSource
from clients.env import Endpoints
from clients.ws_client import RestApi
from demo.report import block, line, section
from demo.samples import photos
from demo.uploads import upload
from localcloud.cloud import LocalCloud

CONTENT_TYPES = {".jpg": "image/jpeg", ".png": "image/png"}


def run(cloud: LocalCloud, login: TokenSource, timeout: float = 120.0) -> list[dict[str, Any]]:
    section("Image pipeline: S3 -> dispatcher -> Step Functions -> grayscale task (C/OpenMP)")
    sqs = cloud.client("sqs")
    bucket = cloud.outputs["ImageInputBucketName"]
    api = RestApi(Endpoints(cloud.outputs["RestApiUrl"], cloud.outputs["WebsocketUrl"]), login)
    pending = {}
    for name, data in photos():
        filename = name.rsplit("/", 1)[-1]
        content_type = CONTENT_TYPES[filename[filename.rindex(".") :]]
        key = upload(api, "image", filename, data, content_type)
        pending[key] = len(data)
        line("uploaded", f"s3://{bucket}/{key} ({len(data):,} bytes, POST /uploads)")
    results: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        response = sqs.receive_message(
            QueueUrl=cloud.outputs["ImageProcessingQueueUrl"],
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
        )
        for message in response.get("Messages", []):
            body = json.loads(message["Body"])
            if body.get("input", {}).get("key") in pending:
                pending.pop(body["input"]["key"])
                results.append(body)
                _show(body)
            sqs.delete_message(
                QueueUrl=cloud.outputs["ImageProcessingQueueUrl"],
                ReceiptHandle=message["ReceiptHandle"],
            )
    for key in pending:
        line("no result in time", key)
    return results


def _show(result: dict[str, Any]) -> None:
    output = result.get("output") or {}
    line("result", f"{result['status']} {result['input']['key']}")
    if output:
        line("  gray output", f"s3://{output['bucket']}/{output['key']}")
    timings = ", ".join(f"{k} {v:.1f} ms" for k, v in result.get("timings_ms", {}).items())
    line("  stages", timings or "-")
    line("  metrics message", "")
    block(result)
