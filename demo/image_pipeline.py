"""Drive the image pipeline: upload real photos, wait for their metrics messages."""

from __future__ import annotations

import json
import time
from typing import Any

from demo.report import block, line, section
from demo.samples import photos
from localcloud.cloud import LocalCloud


def run(cloud: LocalCloud, timeout: float = 120.0) -> list[dict[str, Any]]:
    section("Image pipeline: S3 -> dispatcher -> Step Functions -> grayscale task (C/OpenMP)")
    s3, sqs = cloud.client("s3"), cloud.client("sqs")
    bucket = cloud.outputs["ImageInputBucketName"]
    pending = {}
    for key, data in photos():
        s3.put_object(Bucket=bucket, Key=key, Body=data)
        pending[key] = len(data)
        line("uploaded", f"s3://{bucket}/{key} ({len(data):,} bytes)")
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
