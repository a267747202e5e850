"""The grayscale task's result sidecar (read by the console's image status): with
RESULT_SIDECAR_PREFIX set, the very result it sends to the queue is also stored as
``<prefix><input key>.json``; without it, nothing more is written."""

from __future__ import annotations

import boto3
import pytest

from pipeline_common.contracts.image import ImageProcessingResult
from tests.support import image_samples as samples

pytest.importorskip("grayscale_kernel", reason="native kernel not built: pip install ./native")
task = samples.grayscale_task_module("task")

INPUT_BUCKET = "sidecar-input"
OUTPUT_BUCKET = "sidecar-output"


@pytest.fixture
def queue_url(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
        boto3.client("s3").create_bucket(Bucket=bucket)
    url = boto3.client("sqs").create_queue(QueueName="metrics")["QueueUrl"]
    monkeypatch.setenv("INPUT_BUCKET", INPUT_BUCKET)
    monkeypatch.setenv("OUTPUT_BUCKET", OUTPUT_BUCKET)
    monkeypatch.setenv("METRICS_QUEUE_URL", url)
    monkeypatch.setenv("INPUT_VERSION_ID", "")
    return url


def run(monkeypatch: pytest.MonkeyPatch, key: str, data: bytes) -> int:
    boto3.client("s3").put_object(Bucket=INPUT_BUCKET, Key=key, Body=data)
    monkeypatch.setenv("INPUT_KEY", key)
    return task.main()


def the_message(queue_url: str) -> ImageProcessingResult:
    [message] = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)[
        "Messages"
    ]
    return ImageProcessingResult.model_validate_json(message["Body"])


def sidecar(key: str) -> ImageProcessingResult:
    body = boto3.client("s3").get_object(Bucket=OUTPUT_BUCKET, Key=f"results/{key}.json")["Body"]
    return ImageProcessingResult.model_validate_json(body.read())


@pytest.mark.parametrize(
    ("key", "data", "exit_code"),
    [
        ("uploads/a/bus.jpg", samples.photo_jpeg(), task.EXIT_PROCESSED),
        ("uploads/b/text.png", samples.not_an_image(), task.EXIT_REJECTED),
    ],
    ids=["succeeded", "rejected"],
)
def test_the_sidecar_is_the_queue_message(monkeypatch, queue_url, key, data, exit_code):
    # Given the sidecar is configured
    monkeypatch.setenv("RESULT_SIDECAR_PREFIX", "results/")

    # When the task runs on an input
    assert run(monkeypatch, key, data) == exit_code

    # Then the stored result equals the one message on the queue
    assert sidecar(key) == the_message(queue_url)


def test_without_the_setting_no_sidecar_is_written(monkeypatch, queue_url):
    monkeypatch.delenv("RESULT_SIDECAR_PREFIX", raising=False)

    assert run(monkeypatch, "uploads/c/bus.jpg", samples.photo_jpeg()) == task.EXIT_PROCESSED

    listed = boto3.client("s3").list_objects_v2(Bucket=OUTPUT_BUCKET)
    assert [o["Key"] for o in listed["Contents"]] == ["gray/uploads/c/bus.jpg"]
    assert the_message(queue_url).status == "SUCCEEDED"
