"""The image pipeline end to end on the local cloud: S3 upload -> dispatcher -> Step Functions ->
grayscale task (C/OpenMP kernel) -> ImageOutputBucket + one message on ImageProcessingQueue. The
photo scenario takes ``any_stack``: it runs on a deployed stack too (``AWS_SAM_STACK_NAME``)."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import numpy as np
import pytest
import requests
from PIL import Image

from localcloud.cloud import LocalCloud
from tests.e2e.conftest import QueueRecorder, RestApi
from tests.support.image_samples import UNICODE_KEY, bad_inputs, photo_jpeg, photo_png
from tests.support.stack import s3_notification
from tests.support.stack_interface import Stack
from tests.support.users import StackUser
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e


def _status(rest: RestApi, user: StackUser, key: str) -> requests.Response:
    return rest("GET", f"/images/{key}", user=user)


def _is_result_for(message: dict[str, Any], key: str) -> bool:
    return message.get("kind") == "image.processed" and message["input"]["key"] == key


def _results_for(recorder: QueueRecorder, key: str) -> list[dict[str, Any]]:
    return recorder.received(lambda m: _is_result_for(m, key))


def _upload(stack: LocalCloud, key: str, data: bytes) -> str:
    response = stack.client("s3").put_object(
        Bucket=stack.outputs["ImageInputBucketName"], Key=key, Body=data
    )
    return response.get("VersionId", "")


def _executions(stack: LocalCloud) -> list[dict[str, Any]]:
    sfn = stack.client("stepfunctions")
    return sfn.list_executions(stateMachineArn=stack.outputs["ImageProcessingStateMachineArn"])[
        "executions"
    ]


@pytest.mark.parametrize(
    ("key", "data"),
    [
        ("photos/bus.jpg", photo_jpeg()),
        ("photos/zidane.png", photo_png()),
        (UNICODE_KEY, photo_jpeg()),
    ],
    ids=["jpeg", "png", "unicode-key"],
)
def test_photo_becomes_gray_output_and_one_metrics_message(any_stack: Stack, key, data):
    # Given a real photo
    source = Image.open(io.BytesIO(data))
    key = any_stack.key(key)
    s3, outputs = any_stack.client("s3"), any_stack.outputs
    results = any_stack.messages("ImageProcessingQueueUrl")

    # When it is uploaded to the input bucket
    s3.put_object(Bucket=outputs["ImageInputBucketName"], Key=key, Body=data)

    # Then exactly one SUCCEEDED message names the gray output and every stage's timing
    [result] = wait_for(
        lambda: results.received(lambda m: _is_result_for(m, key)),
        timeout=any_stack.task_timeout,
        what=key,
    )
    assert result["status"] == "SUCCEEDED", result
    assert set(result["timings_ms"]) >= {"download", "decode", "convert", "encode", "upload"}
    assert result["threads"] >= 1
    assert (result["width"], result["height"]) == source.size
    output = result["output"]
    assert output["bucket"] == outputs["ImageOutputBucketName"]
    assert output["key"] == f"gray/{key}"

    # And the output is a gray image of the same size and format, and the input is kept
    body = s3.get_object(Bucket=output["bucket"], Key=output["key"])["Body"]
    gray = Image.open(io.BytesIO(body.read()))
    assert gray.mode == "L"
    assert gray.size == source.size
    assert gray.format == source.format
    pixels = np.asarray(gray)
    assert 0 < pixels.mean() < 255
    assert s3.head_object(Bucket=outputs["ImageInputBucketName"], Key=key)


@pytest.mark.parametrize("bad", bad_inputs(), ids=lambda b: b.name)
def test_bad_input_ends_in_exactly_one_failure_message_and_is_kept(stack, image_results, bad):
    # Given one of the refused inputs (tests/support/image_samples.py)
    key = f"bad/{bad.name}/{bad.key}"

    # When it is uploaded
    _upload(stack, key, bad.data)

    # Then one FAILED message, from the stage that must refuse it, gives a clear reason
    [result] = wait_for(lambda: _results_for(image_results, key), timeout=90, what=bad.name)
    assert result["status"] == "FAILED"
    assert result["stage"] == bad.stage
    assert bad.reason_contains.lower() in result["reason"].lower()

    # And the input object is kept, and nothing loops: no second message arrives
    assert stack.client("s3").head_object(Bucket=stack.outputs["ImageInputBucketName"], Key=key)
    time.sleep(3)  # a retry loop would show up as a second message within this window
    assert len(_results_for(image_results, key)) == 1


def test_same_object_version_is_processed_once(stack, image_results):
    # Given an uploaded photo that was processed
    key = "photos/once.jpg"
    _upload(stack, key, photo_jpeg())
    wait_for(lambda: _results_for(image_results, key), timeout=90, what=key)
    executions_before = len(_executions(stack))

    # When S3 delivers the same notification again (at-least-once delivery)
    bucket = stack.outputs["ImageInputBucketName"]
    event = s3_notification(stack.client("s3"), bucket, key)
    stack.invoke("ImageDispatcherFunction", event)

    # Then no second execution starts and no second message is sent
    time.sleep(2)
    assert len(_executions(stack)) == executions_before
    assert len(_results_for(image_results, key)) == 1


def test_an_upload_through_the_api_is_its_owners_alone(rest, users):
    # Given Alice's upload form (POST /uploads: a presigned POST for a key under her prefix)
    alice = users.alice
    form = rest("POST", "/uploads", user=alice, json={"kind": "image", "filename": "bus.jpg"})
    assert form.status_code == 201, form.text
    upload = form.json()
    assert upload["key"].startswith(alice.uploads)
    assert upload["expires_in"] <= 300

    # When the photo is posted with it, straight to S3
    posted = requests.post(
        upload["url"],
        data=upload["fields"],
        files={"file": ("bus.jpg", photo_jpeg(), upload["content_type"])},
        timeout=30,
    )
    assert posted.status_code in (200, 201, 204), posted.text

    # Then GET /images/{key} follows it to "done" for Alice, and for an admin
    def done() -> dict[str, Any]:
        body: dict[str, Any] = _status(rest, alice, upload["key"]).json()
        return body if body.get("status") == "done" else {}

    status = wait_for(done, timeout=90, what=f"{upload['key']} done")
    assert status["output_url"]
    assert _status(rest, users.admin, upload["key"]).status_code == 200

    # And to anyone else it does not exist
    assert _status(rest, users.bob, upload["key"]).status_code == 404


def test_objects_uploaded_together_share_tasks_and_each_is_reported_once(stack, image_results):
    # Given six photos and one corrupt file uploaded together (batched mode, the default)
    keys = [f"batch/photo-{i}.jpg" for i in range(6)]
    bad_key = "batch/corrupt.jpg"
    executions_before = len(_executions(stack))

    # When they land in the input bucket
    for key in keys:
        _upload(stack, key, photo_jpeg())
    _upload(stack, bad_key, b"\xff\xd8\xff\xe0 not really a jpeg")

    # Then each object gets exactly one message: the photos SUCCEEDED, the corrupt one FAILED
    for key in keys:
        [result] = wait_for(lambda k=key: _results_for(image_results, k), timeout=90, what=key)
        assert result["status"] == "SUCCEEDED", result
        assert result["output"]["key"] == f"gray/{key}"
    [bad] = wait_for(lambda: _results_for(image_results, bad_key), timeout=90, what=bad_key)
    assert bad["status"] == "FAILED"

    # And fewer executions (tasks) ran than objects
    started = len(_executions(stack)) - executions_before
    assert 1 <= started < len(keys) + 1

    # And a redelivered notification (S3 is at-least-once) sends nothing more
    bucket = stack.outputs["ImageInputBucketName"]
    event = s3_notification(stack.client("s3"), bucket, keys[0])
    stack.client("sqs").send_message(
        QueueUrl=stack.outputs["ImageIntakeQueueUrl"], MessageBody=json.dumps(event)
    )
    time.sleep(8)  # a window and a task: a duplicate would show up within this
    for key in [*keys, bad_key]:
        assert len(_results_for(image_results, key)) == 1
