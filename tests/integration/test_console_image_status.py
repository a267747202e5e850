"""ImageStatusFunction against moto: pending, done (from the grayscale task's result sidecar, or
from the output alone) and failed, with presigned links and per-stage timings; for the user whose
prefix the image was uploaded under, and admins."""

from __future__ import annotations

import json
from types import ModuleType
from urllib.parse import quote, urlparse

import boto3
import pytest

from pipeline_common.contracts.image import ImageProcessingResult
from tests.support.api_aws import EVENTS, FakeLambdaContext, body_of, load_event
from tests.support.functions import load_function
from tests.support.tenancy import ALICE, BOB, CAROL_ADMIN, User, as_user, without_claims

INPUT_BUCKET = "console-image-input"
OUTPUT_BUCKET = "console-image-output"
SAMPLE_KEY = load_event("image_status_get")["pathParameters"]["key"]


@pytest.fixture
def image_status(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
        boto3.client("s3").create_bucket(Bucket=bucket)
    monkeypatch.setenv("IMAGE_INPUT_BUCKET", INPUT_BUCKET)
    monkeypatch.setenv("IMAGE_OUTPUT_BUCKET", OUTPUT_BUCKET)
    monkeypatch.setenv("RESULT_SIDECAR_PREFIX", "results/")
    monkeypatch.setenv("PRESIGN_EXPIRY_SECONDS", "300")
    return load_function("image_status")


def get(fn: ModuleType, key: str = SAMPLE_KEY, user: User = ALICE) -> tuple[int, dict]:
    event = as_user(load_event("image_status_get"), user)
    event["path"] = "/images/" + quote(key)
    event["pathParameters"] = {"key": key}
    response = fn.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], body_of(response)


def put(bucket: str, key: str, body: bytes = b"\xff\xd8 jpeg bytes") -> None:
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body)


def sidecar(key: str, name: str) -> dict:
    """A sample result message, as the grayscale task stores it next to its output."""
    result = json.loads(_event_text(name))
    result["input"] = {"bucket": INPUT_BUCKET, "key": key, "version_id": None}
    if result.get("output"):
        result["output"] = {"bucket": OUTPUT_BUCKET, "key": f"gray/{key}", "version_id": None}
    ImageProcessingResult.model_validate(result)
    put(OUTPUT_BUCKET, f"results/{key}.json", json.dumps(result).encode())
    return result


def _event_text(name: str) -> str:
    return (EVENTS / f"{name}.json").read_text()


def assert_signed_for(url: str, bucket: str, key: str) -> None:
    parsed = urlparse(url)
    assert bucket in parsed.netloc + parsed.path
    assert parsed.path.endswith(quote(key))
    assert "X-Amz-Signature=" in parsed.query
    assert "X-Amz-Expires=300" in parsed.query


def test_a_fresh_upload_is_pending_with_its_input_link(image_status):
    # Given an uploaded photo the pipeline has not finished
    put(INPUT_BUCKET, SAMPLE_KEY)

    # When its status is read
    status, view = get(image_status)

    # Then it is pending, and the input can be shown already
    assert status == 200
    assert view["status"] == "pending"
    assert view["input_bytes"] == len(b"\xff\xd8 jpeg bytes")
    assert_signed_for(view["input_url"], INPUT_BUCKET, SAMPLE_KEY)
    assert "output_url" not in view


def test_a_processed_image_is_done_with_every_stage_timing(image_status):
    # Given the grayscale task's SUCCEEDED sidecar and output
    put(INPUT_BUCKET, SAMPLE_KEY)
    put(OUTPUT_BUCKET, f"gray/{SAMPLE_KEY}")
    result = sidecar(SAMPLE_KEY, "image_processing_result_succeeded")

    # When its status is read
    status, view = get(image_status)

    # Then it is done, with the timings and facts of the sidecar and a link to the gray output
    assert status == 200
    assert view["status"] == "done"
    assert view["timings_ms"] == result["timings_ms"]
    assert {"download", "decode", "convert", "encode", "upload"} <= set(view["timings_ms"])
    assert (view["width"], view["height"]) == (result["width"], result["height"])
    assert_signed_for(view["output_url"], OUTPUT_BUCKET, f"gray/{SAMPLE_KEY}")


def test_a_rejected_image_is_failed_with_the_reason_and_stage(image_status):
    put(INPUT_BUCKET, SAMPLE_KEY)
    result = sidecar(SAMPLE_KEY, "image_processing_result_failed")

    status, view = get(image_status)

    assert status == 200
    assert (view["status"], view["stage"], view["reason"]) == (
        "failed",
        result["stage"],
        result["reason"],
    )
    assert "output_url" not in view


def test_an_output_without_a_sidecar_is_done_without_timings(image_status):
    put(INPUT_BUCKET, SAMPLE_KEY)
    put(OUTPUT_BUCKET, f"gray/{SAMPLE_KEY}")

    status, view = get(image_status)

    assert (status, view["status"], view["timings_ms"]) == (200, "done", {})
    assert_signed_for(view["output_url"], OUTPUT_BUCKET, f"gray/{SAMPLE_KEY}")


def test_a_unicode_key_is_found(image_status):
    key = f"{ALICE.uploads}0123-plage à midi (ß) 日本.jpg"
    put(INPUT_BUCKET, key)

    status, view = get(image_status, key)

    assert (status, view["status"], view["key"]) == (200, "pending", key)


def test_an_unknown_key_is_404(image_status):
    status, view = get(image_status, f"{ALICE.uploads}nothing-here.jpg")

    assert status == 404
    assert view["error"]["code"] == "unknown_image"


def test_a_sidecar_naming_another_bucket_is_not_signed(image_status):
    put(INPUT_BUCKET, SAMPLE_KEY)
    result = json.loads(_event_text("image_processing_result_succeeded"))
    result["input"] = {"bucket": INPUT_BUCKET, "key": SAMPLE_KEY}
    result["output"] = {"bucket": "someone-elses-bucket", "key": "secret.jpg"}
    put(OUTPUT_BUCKET, f"results/{SAMPLE_KEY}.json", json.dumps(result).encode())

    status, view = get(image_status)

    assert (status, view["status"]) == (200, "done")
    assert "output_url" not in view


def test_the_sample_invalid_key_event_is_refused(image_status):
    response = image_status.lambda_handler(
        load_event("image_status_invalid_key"), FakeLambdaContext()
    )

    assert response["statusCode"] == 400
    assert body_of(response)["error"]["code"] == "invalid_key"


def test_the_sample_key_is_under_the_sample_users_prefix():
    assert SAMPLE_KEY.startswith(ALICE.uploads)


def test_another_users_image_is_the_same_404_as_a_missing_one(image_status):
    # Given Bob's answer for a key under Alice's prefix that does not exist yet
    before = get(image_status, user=BOB)

    # When Alice's image is there and processed, and Bob asks again
    put(INPUT_BUCKET, SAMPLE_KEY)
    put(OUTPUT_BUCKET, f"gray/{SAMPLE_KEY}")
    after = get(image_status, user=BOB)

    # Then nothing tells him it exists
    assert before == after
    assert after[0] == 404
    assert after[1]["error"]["code"] == "unknown_image"


def test_an_admin_sees_any_users_image(image_status):
    put(INPUT_BUCKET, SAMPLE_KEY)

    status, view = get(image_status, user=CAROL_ADMIN)

    assert (status, view["status"]) == (200, "pending")
    assert_signed_for(view["input_url"], INPUT_BUCKET, SAMPLE_KEY)


def test_a_key_outside_every_users_prefix_is_for_admins_only(image_status):
    # Given an object put straight into the bucket (by an operator, not through POST /uploads)
    put(INPUT_BUCKET, "incoming/scan.png")

    assert get(image_status, "incoming/scan.png")[0] == 404
    assert get(image_status, "incoming/scan.png", user=CAROL_ADMIN)[0] == 200


def test_a_request_without_verified_claims_is_401(image_status):
    put(INPUT_BUCKET, SAMPLE_KEY)

    response = image_status.lambda_handler(
        without_claims(load_event("image_status_get")), FakeLambdaContext()
    )

    assert response["statusCode"] == 401
