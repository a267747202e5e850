"""The grayscale container's entrypoint, run in-process against moto with its environment set
the way the state machine's container overrides and the task definition set it."""

from __future__ import annotations

import io
from dataclasses import dataclass

import boto3
import numpy as np
import pytest
from PIL import Image

from pipeline_common.contracts.image import ImageProcessingResult, ImageStatus
from tests.support import image_samples as samples

pytest.importorskip("grayscale_kernel", reason="native kernel not built: pip install ./native")
task = samples.grayscale_task_module("task")

INPUT_BUCKET = "image-input-bucket"
OUTPUT_BUCKET = "image-output-bucket"
STAGES = ("setup", "download", "decode", "convert", "encode", "upload", "total")


@dataclass
class Cloud:
    monkeypatch: pytest.MonkeyPatch
    queue_url: str

    def put(self, key: str, data: bytes) -> str | None:
        return (
            boto3.client("s3").put_object(Bucket=INPUT_BUCKET, Key=key, Body=data).get("VersionId")
        )

    def run(self, key: str, version_id: str | None = None, **env: str) -> int:
        """One task run; ``version_id`` None is what the state machine passes as ''."""
        self.monkeypatch.setenv("INPUT_KEY", key)
        self.monkeypatch.setenv("INPUT_VERSION_ID", version_id or "")
        for name, value in env.items():
            self.monkeypatch.setenv(name, value)
        return task.main()

    def messages(self) -> list[ImageProcessingResult]:
        received = boto3.client("sqs").receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        return [
            ImageProcessingResult.model_validate_json(m["Body"])
            for m in received.get("Messages", [])
        ]

    def output(self, key: str) -> Image.Image:
        body = boto3.client("s3").get_object(Bucket=OUTPUT_BUCKET, Key=key)["Body"].read()
        image = Image.open(io.BytesIO(body))
        image.load()
        return image

    def output_keys(self) -> list[str]:
        listed = boto3.client("s3").list_object_versions(Bucket=OUTPUT_BUCKET)
        return [v["Key"] for v in listed.get("Versions", [])]

    def input_exists(self, key: str) -> bool:
        listed = boto3.client("s3").list_objects_v2(Bucket=INPUT_BUCKET, Prefix=key)
        return any(obj["Key"] == key for obj in listed.get("Contents", []))


@pytest.fixture
def cloud(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> Cloud:
    s3 = boto3.client("s3")
    for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    queue_url = boto3.client("sqs").create_queue(QueueName="ImageProcessingQueue")["QueueUrl"]
    for name, value in {
        "INPUT_BUCKET": INPUT_BUCKET,
        "OUTPUT_BUCKET": OUTPUT_BUCKET,
        "METRICS_QUEUE_URL": queue_url,
        "CORRELATION_ID": "img-test-correlation",
        "GRAYSCALE_THREADS": "0",
    }.items():
        monkeypatch.setenv(name, value)
    return Cloud(monkeypatch, queue_url)


@pytest.mark.parametrize(
    ("photo", "key", "fmt"),
    [
        (samples.photo_jpeg, "uploads/bus.jpg", "JPEG"),
        (samples.photo_png, "uploads/zidane.png", "PNG"),
        (samples.photo_jpeg, samples.UNICODE_KEY, "JPEG"),
    ],
    ids=["jpeg", "png", "unicode-key"],
)
def test_photo_is_converted_uploaded_and_reported(cloud: Cloud, photo, key: str, fmt: str) -> None:
    # Given a real photo in the input bucket
    data = photo()
    version_id = cloud.put(key, data)
    source = Image.open(io.BytesIO(data))

    # When the task runs on it
    exit_code = cloud.run(key, version_id)

    # Then it exits 0, the gray image sits under the deterministic key in the same format
    assert exit_code == task.EXIT_PROCESSED
    output = cloud.output(f"gray/{key}")
    assert (output.format, output.mode, output.size) == (fmt, "L", source.size)
    if fmt == "PNG":  # lossless: exactly the kernel's formula on the decoded RGB
        expected = samples.reference_gray(np.asarray(source.convert("RGB")))
        np.testing.assert_array_equal(np.asarray(output), expected)

    # And exactly one SUCCEEDED message describes the run, with every stage timed
    (message,) = cloud.messages()
    assert message.status == ImageStatus.SUCCEEDED
    assert message.stage == "completed"
    assert message.correlation_id == "img-test-correlation"
    assert (message.input.key, message.input.version_id) == (key, version_id)
    assert message.output is not None
    assert (message.output.bucket, message.output.key) == (OUTPUT_BUCKET, f"gray/{key}")
    assert (message.width, message.height) == source.size
    assert (message.format, message.mode, message.output_mode) == (fmt, "RGB", "L")
    assert message.input_bytes == len(data)
    assert message.output_bytes == len(
        boto3.client("s3").get_object(Bucket=OUTPUT_BUCKET, Key=f"gray/{key}")["Body"].read()
    )
    assert set(message.timings_ms) == set(STAGES)
    assert all(value >= 0 for value in message.timings_ms.values())
    assert message.threads is not None
    assert message.threads >= 1
    # And the input is kept
    assert cloud.input_exists(key)


@pytest.mark.parametrize("bad", samples.bad_inputs(), ids=lambda bad: bad.name)
def test_bad_input_exits_2_with_exactly_one_failure_message(
    cloud: Cloud, bad: samples.BadInput
) -> None:
    # Given a bad upload (those the dispatcher refuses are checked here too, in case a task is
    # started by hand)
    version_id = cloud.put(bad.key, bad.data)

    # When the task runs on it
    exit_code = cloud.run(bad.key, version_id)

    # Then it exits 2 (rejected: the state machine must not report it again or retry)
    assert exit_code == task.EXIT_REJECTED
    (message,) = cloud.messages()
    assert message.status == ImageStatus.FAILED
    assert message.output is None
    expected = {"zero_bytes": "empty", "gif": "not a JPEG or PNG"}.get(
        bad.name, bad.reason_contains
    )
    assert expected in (message.reason or "")
    assert message.stage == ("download" if bad.name == "zero_bytes" else "decode")
    assert message.input.key == bad.key
    # And the input is kept, and nothing was written
    assert cloud.input_exists(bad.key)
    assert cloud.output_keys() == []


def test_retry_overwrites_the_same_output(cloud: Cloud) -> None:
    # Given an object processed once
    version_id = cloud.put("uploads/bus.jpg", samples.photo_jpeg())
    assert cloud.run("uploads/bus.jpg", version_id) == task.EXIT_PROCESSED

    # When the same task runs again (a retried execution)
    assert cloud.run("uploads/bus.jpg", version_id) == task.EXIT_PROCESSED

    # Then there is still one output key, written twice with identical bytes
    assert set(cloud.output_keys()) == {"gray/uploads/bus.jpg"}
    s3 = boto3.client("s3")
    versions = s3.list_object_versions(Bucket=OUTPUT_BUCKET)["Versions"]
    bodies = {
        s3.get_object(Bucket=OUTPUT_BUCKET, Key=v["Key"], VersionId=v["VersionId"])["Body"].read()
        for v in versions
    }
    assert len(bodies) == 1


def test_the_requested_version_is_processed(cloud: Cloud) -> None:
    # Given a key overwritten after the notification of its first version
    first = cloud.put("uploads/photo.png", samples.photo_png())
    cloud.put("uploads/photo.png", samples.not_an_image())

    # When the task runs on the first version
    exit_code = cloud.run("uploads/photo.png", first)

    # Then that version (a valid PNG) is processed
    assert exit_code == task.EXIT_PROCESSED
    (message,) = cloud.messages()
    assert message.input.version_id == first


def test_vanished_object_is_rejected(cloud: Cloud) -> None:
    # Given a key that does not exist (deleted after its notification)
    # When the task runs on it
    exit_code = cloud.run("uploads/gone.jpg")

    # Then it is a rejection with a clear reason
    assert exit_code == task.EXIT_REJECTED
    (message,) = cloud.messages()
    assert (message.stage, message.reason) == (
        "download",
        "input object no longer exists (NoSuchKey)",
    )


def test_exif_orientation_is_applied(cloud: Cloud) -> None:
    # Given a landscape-stored JPEG whose EXIF says "rotate 90 degrees" (orientation 6)
    data = samples.jpeg_with_orientation(samples.synthetic_photo(120, 200), 6)
    version_id = cloud.put("uploads/rotated.jpg", data)

    # When the task runs on it
    assert cloud.run("uploads/rotated.jpg", version_id) == task.EXIT_PROCESSED

    # Then the output is upright (portrait), and so are the reported dimensions
    assert cloud.output("gray/uploads/rotated.jpg").size == (120, 200)
    (message,) = cloud.messages()
    assert (message.width, message.height) == (120, 200)


def test_alpha_png_keeps_transparency(cloud: Cloud) -> None:
    # Given an RGBA PNG
    rgba = np.dstack([samples.synthetic_photo(50, 60), np.full((50, 60), 128, np.uint8)])
    version_id = cloud.put("uploads/logo.png", samples.encode(Image.fromarray(rgba), "PNG"))

    # When the task runs on it
    assert cloud.run("uploads/logo.png", version_id) == task.EXIT_PROCESSED

    # Then the output is gray + alpha
    output = cloud.output("gray/uploads/logo.png")
    assert output.mode == "LA"
    assert np.all(np.asarray(output)[..., 1] == 128)


def test_jpeg_luma_decode_is_an_explicit_setting(cloud: Cloud) -> None:
    # Given a real JPEG and the luma decode switched on
    version_id = cloud.put("uploads/bus.jpg", samples.photo_jpeg())

    # When the task runs
    exit_code = cloud.run("uploads/bus.jpg", version_id, JPEG_LUMA_DECODE="true")

    # Then it succeeds with a gray JPEG of the same size
    assert exit_code == task.EXIT_PROCESSED
    (message,) = cloud.messages()
    assert message.output_mode == "L"
    assert cloud.output("gray/uploads/bus.jpg").size == (message.width, message.height)


def test_invalid_environment_exits_1_without_a_message(cloud: Cloud) -> None:
    # Given a task started without its output bucket
    cloud.monkeypatch.delenv("OUTPUT_BUCKET")
    cloud.put("uploads/bus.jpg", samples.photo_jpeg())

    # When it runs
    exit_code = cloud.run("uploads/bus.jpg")

    # Then it crashes (the state machine reports crashes) and sends nothing itself
    assert exit_code == task.EXIT_CRASHED
    assert cloud.messages() == []


def test_aws_failure_exits_1_without_a_message(cloud: Cloud) -> None:
    # Given an output bucket that does not exist (a broken deployment, not a bad input)
    cloud.put("uploads/bus.jpg", samples.photo_jpeg())

    # When the task runs
    exit_code = cloud.run("uploads/bus.jpg", OUTPUT_BUCKET="missing-output-bucket")

    # Then it is a crash for the state machine to report, not a rejection
    assert exit_code == task.EXIT_CRASHED
    assert cloud.messages() == []
