"""The grayscale task in batched mode, in-process against moto: one manifest, a claim per object,
one output and one result message per object; a bad image fails alone; a batch run again, or a
second batch holding the same object, sends nothing twice."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from pipeline_common.contracts.image import (
    ImageBatchManifest,
    ImageProcessingInput,
    ImageProcessingResult,
    ImageStatus,
)
from tests.support import image_samples as samples
from tests.support.tables import create_table

pytest.importorskip("grayscale_kernel", reason="native kernel not built: pip install ./native")
task = samples.grayscale_task_module("task")
upload_module = samples.grayscale_task_module("upload")

INPUT_BUCKET = "image-input-bucket"
OUTPUT_BUCKET = "image-output-bucket"
CLAIMS_TABLE = "ImageClaimsTable"


@dataclass
class Cloud:
    monkeypatch: pytest.MonkeyPatch
    queue_url: str

    def put(self, key: str, data: bytes) -> ImageProcessingInput:
        version = boto3.client("s3").put_object(Bucket=INPUT_BUCKET, Key=key, Body=data)
        return ImageProcessingInput(
            bucket=INPUT_BUCKET,
            key=key,
            version_id=version.get("VersionId"),
            size=len(data),
            correlation_id=f"img-{abs(hash((key, version.get('VersionId'))))}",
        )

    def run_batch(self, batch_id: str, objects: list[ImageProcessingInput]) -> int:
        manifest = ImageBatchManifest(batch_id=batch_id, objects=objects)
        key = f"manifests/{batch_id}.json"
        boto3.client("s3").put_object(
            Bucket=OUTPUT_BUCKET, Key=key, Body=manifest.model_dump_json().encode()
        )
        self.monkeypatch.setenv("MANIFEST_KEY", key)
        self.monkeypatch.setenv("BATCH_ID", batch_id)
        self.monkeypatch.setenv("CORRELATION_ID", batch_id)
        return task.main()

    def messages(self) -> list[ImageProcessingResult]:
        sqs = boto3.client("sqs")
        found: list[ImageProcessingResult] = []
        while True:
            got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not got:
                return found
            for m in got:
                found.append(ImageProcessingResult.model_validate_json(m["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])

    def claim(self, object_id: str) -> dict[str, Any]:
        item = boto3.client("dynamodb").get_item(
            TableName=CLAIMS_TABLE, Key={"object_id": {"S": object_id}}
        )
        return {k: next(iter(v.values())) for k, v in item.get("Item", {}).items()}

    def output_exists(self, key: str) -> bool:
        listed = boto3.client("s3").list_objects_v2(Bucket=OUTPUT_BUCKET, Prefix=f"gray/{key}")
        return any(o["Key"] == f"gray/{key}" for o in listed.get("Contents", []))


@pytest.fixture
def cloud(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> Cloud:
    s3 = boto3.client("s3")
    for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    create_table("ImageClaimsTable", CLAIMS_TABLE)
    queue_url = boto3.client("sqs").create_queue(QueueName="ImageProcessingQueue")["QueueUrl"]
    for name in ("INPUT_BUCKET", "INPUT_KEY", "INPUT_VERSION_ID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "MANIFEST_BUCKET": OUTPUT_BUCKET,
        "OUTPUT_BUCKET": OUTPUT_BUCKET,
        "METRICS_QUEUE_URL": queue_url,
        "CLAIMS_TABLE": CLAIMS_TABLE,
        "RESULT_SIDECAR_PREFIX": "results/",
        "GRAYSCALE_THREADS": "0",
    }.items():
        monkeypatch.setenv(name, value)
    return Cloud(monkeypatch, queue_url)


def test_a_bad_image_fails_alone_and_every_object_gets_its_output_and_message(cloud: Cloud):
    # Given a batch of two photos with a corrupt one between them
    good_a = cloud.put("uploads/a.jpg", samples.photo_jpeg())
    bad = cloud.put("uploads/bad.jpg", samples.truncated_jpeg())
    good_b = cloud.put("uploads/b.png", samples.photo_png())

    # When the batch task runs
    exit_code = cloud.run_batch("imgb-1", [good_a, bad, good_b])

    # Then it exits 0 (every object reported), with one message per object
    assert exit_code == task.EXIT_PROCESSED
    by_key = {m.input.key: m for m in cloud.messages()}
    assert set(by_key) == {"uploads/a.jpg", "uploads/bad.jpg", "uploads/b.png"}
    assert by_key["uploads/a.jpg"].status == ImageStatus.SUCCEEDED
    assert by_key["uploads/b.png"].status == ImageStatus.SUCCEEDED
    assert (by_key["uploads/bad.jpg"].status, by_key["uploads/bad.jpg"].stage) == (
        ImageStatus.FAILED,
        "decode",
    )
    # And each message carries its own object's correlation id, the good ones their outputs
    assert by_key["uploads/a.jpg"].correlation_id == good_a.correlation_id
    assert cloud.output_exists("uploads/a.jpg")
    assert cloud.output_exists("uploads/b.png")
    assert not cloud.output_exists("uploads/bad.jpg")
    # And each claim is REPORTED by this batch
    for obj, outcome in ((good_a, "SUCCEEDED"), (bad, "FAILED"), (good_b, "SUCCEEDED")):
        claim = cloud.claim(obj.correlation_id)
        assert (claim["state"], claim["batch_id"], claim["outcome"]) == (
            "REPORTED",
            "imgb-1",
            outcome,
        )


def test_running_the_same_batch_again_sends_nothing_twice(cloud: Cloud):
    # Given a batch that was processed
    objects = [cloud.put(f"uploads/{i}.jpg", samples.photo_jpeg()) for i in range(3)]
    assert cloud.run_batch("imgb-2", objects) == task.EXIT_PROCESSED
    assert len(cloud.messages()) == 3

    # When it runs again (a redelivered batch, a retried task)
    exit_code = cloud.run_batch("imgb-2", objects)

    # Then it succeeds and sends no message
    assert exit_code == task.EXIT_PROCESSED
    assert cloud.messages() == []


def test_an_object_in_two_batches_is_reported_by_the_first_only(cloud: Cloud):
    # Given an object processed by one batch
    shared = cloud.put("uploads/shared.jpg", samples.photo_jpeg())
    other = cloud.put("uploads/other.jpg", samples.photo_jpeg())
    assert cloud.run_batch("imgb-first", [shared]) == task.EXIT_PROCESSED
    cloud.messages()

    # When a second batch (a duplicate notification) holds it too
    exit_code = cloud.run_batch("imgb-second", [shared, other])

    # Then only the new object is reported, and the shared claim stays the first batch's
    assert exit_code == task.EXIT_PROCESSED
    assert [m.input.key for m in cloud.messages()] == ["uploads/other.jpg"]
    assert cloud.claim(shared.correlation_id)["batch_id"] == "imgb-first"


def test_an_object_that_crashes_is_retaken_by_the_retry_and_the_others_are_not_resent(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
):
    # Given a batch whose second object's upload fails once (an AWS error, not the input)
    objects = [cloud.put(f"uploads/c{i}.jpg", samples.photo_jpeg()) for i in range(3)]
    real_upload = upload_module.upload
    failures = {"left": 1}

    def flaky_upload(encoded, *, bucket, key, source, correlation_id):
        if source.key == "uploads/c1.jpg" and failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("injected: S3 unavailable")
        return real_upload(
            encoded, bucket=bucket, key=key, source=source, correlation_id=correlation_id
        )

    monkeypatch.setattr(upload_module, "upload", flaky_upload)

    # When the task runs: the others go on, and it exits 1 so the state machine retries
    assert cloud.run_batch("imgb-3", objects) == task.EXIT_CRASHED
    first = sorted(m.input.key for m in cloud.messages())
    assert first == ["uploads/c0.jpg", "uploads/c2.jpg"]
    assert cloud.claim(objects[1].correlation_id)["state"] == "PROCESSING"

    # And the retry (same batch) takes the crashed object only
    assert cloud.run_batch("imgb-3", objects) == task.EXIT_PROCESSED
    (retried,) = cloud.messages()
    assert (retried.input.key, retried.status) == ("uploads/c1.jpg", ImageStatus.SUCCEEDED)


def test_an_unreadable_manifest_exits_2_and_reports_nothing(cloud: Cloud):
    # Given a batch whose manifest is gone
    cloud.monkeypatch.setenv("MANIFEST_KEY", "manifests/missing.json")
    cloud.monkeypatch.setenv("BATCH_ID", "imgb-missing")

    # When the task runs / Then it exits 2 (the state machine reports every object)
    assert task.main() == task.EXIT_REJECTED
    assert cloud.messages() == []


def test_an_object_over_its_time_limit_fails_alone(cloud: Cloud, monkeypatch: pytest.MonkeyPatch):
    # Given a 1 s limit per object and an upload that hangs for the first object

    objects = [cloud.put(f"uploads/t{i}.jpg", samples.photo_jpeg()) for i in range(2)]
    cloud.monkeypatch.setenv("OBJECT_TIMEOUT_SECONDS", "1")
    real_upload = upload_module.upload

    def slow_upload(encoded, *, bucket, key, source, correlation_id):
        if source.key == "uploads/t0.jpg":
            time.sleep(5)
        return real_upload(
            encoded, bucket=bucket, key=key, source=source, correlation_id=correlation_id
        )

    monkeypatch.setattr(upload_module, "upload", slow_upload)

    # When the batch runs
    assert cloud.run_batch("imgb-4", objects) == task.EXIT_PROCESSED

    # Then the slow object fails alone at the stage it was in, the other succeeds
    by_key = {m.input.key: m for m in cloud.messages()}
    assert by_key["uploads/t0.jpg"].status == ImageStatus.FAILED
    assert by_key["uploads/t0.jpg"].stage == "upload"
    assert "1 s allowed per object" in (by_key["uploads/t0.jpg"].reason or "")
    assert by_key["uploads/t1.jpg"].status == ImageStatus.SUCCEEDED


def test_objects_in_flight_overlap_their_requests_and_take_turns_at_the_pixels(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
):
    # Given a batch of four photos, two objects in flight, and a probe on the stages: the first
    # two uploads wait for each other (they break the barrier unless both are in flight at once)

    decode_module = samples.grayscale_task_module("decode")
    encode_module = samples.grayscale_task_module("encode")
    objects = [cloud.put(f"uploads/o{i}.jpg", samples.photo_jpeg()) for i in range(4)]
    cloud.monkeypatch.setenv("BATCH_CONCURRENCY", "2")
    both_uploading = threading.Barrier(2, timeout=10)
    lock = threading.Lock()
    seen = {"pixels": 0, "most_pixels": 0, "uploads": 0}
    real_decode, real_encode, real_upload = (
        decode_module.decode,
        encode_module.encode,
        upload_module.upload,
    )

    def probed_decode(*args, **kwargs):
        with lock:
            seen["pixels"] += 1
            seen["most_pixels"] = max(seen["most_pixels"], seen["pixels"])
        return real_decode(*args, **kwargs)

    def probed_encode(*args, **kwargs):
        try:
            return real_encode(*args, **kwargs)
        finally:
            with lock:
                seen["pixels"] -= 1

    def probed_upload(encoded, *, bucket, key, source, correlation_id):
        with lock:
            seen["uploads"] += 1
            first_two = seen["uploads"] <= 2
        if first_two:
            both_uploading.wait()
        return real_upload(
            encoded, bucket=bucket, key=key, source=source, correlation_id=correlation_id
        )

    monkeypatch.setattr(decode_module, "decode", probed_decode)
    monkeypatch.setattr(encode_module, "encode", probed_encode)
    monkeypatch.setattr(upload_module, "upload", probed_upload)

    # When the batch runs
    assert cloud.run_batch("imgb-5", objects) == task.EXIT_PROCESSED

    # Then two uploads were in flight at once, while decode..encode ran for one object at a time
    assert not both_uploading.broken
    assert seen["most_pixels"] == 1
    # And every object has its output, its one SUCCEEDED message and its REPORTED claim
    messages = cloud.messages()
    assert sorted(m.input.key for m in messages) == [f"uploads/o{i}.jpg" for i in range(4)]
    assert {m.status for m in messages} == {ImageStatus.SUCCEEDED}
    for obj in objects:
        assert cloud.output_exists(obj.key)
        assert cloud.claim(obj.correlation_id)["state"] == "REPORTED"


def test_waiting_for_the_pixel_turn_does_not_count_against_an_objects_limit(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
):
    # Given a 1 s limit per object and a first object whose decode takes 2.5 s, holding the
    # pixel turn the three others wait for

    decode_module = samples.grayscale_task_module("decode")
    objects = [cloud.put(f"uploads/w{i}.jpg", samples.photo_jpeg()) for i in range(4)]
    cloud.monkeypatch.setenv("OBJECT_TIMEOUT_SECONDS", "1")
    cloud.monkeypatch.setenv("BATCH_CONCURRENCY", "4")
    real_decode = decode_module.decode
    first = {"taken": False}
    lock = threading.Lock()

    def slow_first_decode(*args, **kwargs):
        with lock:
            slow, first["taken"] = not first["taken"], True
        if slow:
            time.sleep(2.5)
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(decode_module, "decode", slow_first_decode)

    # When the batch runs
    assert cloud.run_batch("imgb-6", objects) == task.EXIT_PROCESSED

    # Then the slow object fails alone at decode, reported once; the others, which waited longer
    # than the limit for their turn, succeed
    messages = cloud.messages()
    failed = [m for m in messages if m.status == ImageStatus.FAILED]
    assert len(messages) == 4
    assert [(m.stage, "1 s allowed per object" in (m.reason or "")) for m in failed] == [
        ("decode", True)
    ]
    assert sum(m.status == ImageStatus.SUCCEEDED for m in messages) == 3
    assert cloud.claim(failed[0].correlation_id)["outcome"] == "FAILED"
