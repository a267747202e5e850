"""UploadUrlFunction against moto: a presigned POST the browser can use as is, under the caller's
own prefix, per-kind extension checks, and a size limit S3 itself enforces."""

from __future__ import annotations

import base64
import importlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from pipeline_common import aws
from tests.support.api_aws import FakeLambdaContext, body_of, load_event
from tests.support.functions import load_function
from tests.support.image_samples import photo_jpeg
from tests.support.tenancy import ALICE, BOB, as_user, without_claims

IMAGE_BUCKET = "console-image-input"
VIDEO_BUCKET = "console-video-input"


def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGE_INPUT_BUCKET", IMAGE_BUCKET)
    monkeypatch.setenv("VIDEO_INPUT_BUCKET", VIDEO_BUCKET)
    monkeypatch.setenv("MAX_IMAGE_BYTES", str(len(photo_jpeg()) + 10))


@pytest.fixture
def upload_url(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    _environment(monkeypatch)
    return load_function("upload_url")


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The function signing against a real HTTP S3 (moto's server), so the POST can be sent."""
    server = ThreadedMotoServer(port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
    aws.clear_clients()
    for bucket in (IMAGE_BUCKET, VIDEO_BUCKET):
        aws.client("s3").create_bucket(Bucket=bucket)
    _environment(monkeypatch)
    try:
        yield load_function("upload_url")
    finally:
        aws.clear_clients()
        server.stop()


def invoke(fn: ModuleType, event: dict) -> dict:
    return fn.lambda_handler(event, FakeLambdaContext())


def with_body(name: str, body: dict) -> dict:
    event = load_event(name)
    event["body"] = json.dumps(body)
    return event


def test_image_upload_gets_a_presigned_post_under_the_callers_prefix(upload_url):
    # When Alice asks for the sample image upload
    response = invoke(upload_url, load_event("upload_url_image"))

    # Then it is a POST form for the image bucket, at uploads/<her sub>/<uuid>-<safe name>
    assert response["statusCode"] == 201, response
    ticket = body_of(response)
    assert ticket["bucket"] == IMAGE_BUCKET
    prefix, owner, name = ticket["key"].split("/")
    upload_id, safe_name = name.split("-", 1)
    assert (prefix, owner, safe_name, len(upload_id)) == (
        "uploads",
        ALICE.sub,
        "holiday_photo.jpg",
        32,
    )
    assert ticket["fields"]["key"] == ticket["key"]
    assert ticket["fields"]["Content-Type"] == "image/jpeg"
    # The signed policy pins that exact key: the form cannot be aimed at another prefix
    policy = json.loads(base64.b64decode(ticket["fields"]["policy"]))
    assert {"key": ticket["key"]} in policy["conditions"]
    assert ["content-length-range", 1, ticket["max_bytes"]] in policy["conditions"]
    assert ticket["status_path"] == f"/images/{ticket['key']}"


def test_the_form_expires_within_five_minutes(upload_url):
    asked_at = datetime.now(UTC)

    ticket = body_of(invoke(upload_url, load_event("upload_url_image")))

    policy = json.loads(base64.b64decode(ticket["fields"]["policy"]))
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert ticket["expires_in"] <= 300
    assert expires - asked_at <= timedelta(seconds=301)


def test_each_user_uploads_under_their_own_prefix_whatever_the_body_says(upload_url):
    # Given Bob's request, whose file name tries to walk into Alice's prefix
    event = with_body("upload_url_image", {"kind": "image", "filename": f"../{ALICE.sub}/x.jpg"})

    ticket = body_of(invoke(upload_url, as_user(event, BOB)))

    assert ticket["key"].startswith(BOB.uploads)
    assert ticket["key"].count("/") == 2


def test_a_request_without_verified_claims_is_401(upload_url):
    response = invoke(upload_url, without_claims(load_event("upload_url_image")))

    assert response["statusCode"] == 401
    assert body_of(response)["error"]["code"] == "unauthorized"


def test_a_form_lifetime_over_five_minutes_fails_at_start(monkeypatch: pytest.MonkeyPatch):
    _environment(monkeypatch)
    monkeypatch.setenv("UPLOAD_EXPIRY_SECONDS", "301")

    with pytest.raises(ValueError, match="upload_expiry_seconds"):
        load_function("upload_url")


def test_two_uploads_of_one_name_never_share_a_key(upload_url):
    first = body_of(invoke(upload_url, load_event("upload_url_image")))["key"]
    second = body_of(invoke(upload_url, load_event("upload_url_image")))["key"]

    assert first != second


def test_video_upload_goes_to_the_video_bucket(upload_url):
    ticket = body_of(invoke(upload_url, load_event("upload_url_video")))

    assert ticket["bucket"] == VIDEO_BUCKET
    assert ticket["content_type"] == "video/mp4"
    assert ticket["status_path"] == f"/videos?key={ticket['key']}"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"kind": "image", "filename": "notes.gif"}, "unsupported_extension", "filename"),
        ({"kind": "image", "filename": "street.mp4"}, "unsupported_extension", "filename"),
        ({"kind": "video", "filename": "bus.jpg"}, "unsupported_extension", "filename"),
        ({"kind": "image", "filename": "no-extension"}, "unsupported_extension", "filename"),
        (
            {"kind": "image", "filename": "a.png", "content_type": "video/mp4"},
            "unsupported_content_type",
            "content_type",
        ),
        ({"kind": "audio", "filename": "a.mp3"}, "invalid_request", "kind"),
        ({"kind": "image"}, "invalid_request", "filename"),
        ({"kind": "image", "filename": "a.jpg", "extra": 1}, "invalid_request", "extra"),
    ],
)
def test_bad_requests_are_refused_with_the_field_at_fault(upload_url, body, code, field):
    response = invoke(upload_url, with_body("upload_url_image", body))

    assert response["statusCode"] == 400
    error = body_of(response)["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert error["message"]


def test_the_sample_wrong_extension_event_names_the_allowed_ones(upload_url):
    response = invoke(upload_url, load_event("upload_url_wrong_extension"))

    assert response["statusCode"] == 400
    assert ".jpeg, .jpg, .png" in body_of(response)["error"]["message"]


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("../../etc/passwd.png", "passwd.png"),
        ("C:\\Users\\me\\Photo 1.JPG", "Photo_1.jpg"),
        (".hidden.png", "hidden.png"),
        ("été à la plage.jpeg", "t_la_plage.jpeg"),
        ("x" * 300 + ".png", "x" * 96 + ".png"),
    ],
)
def test_filenames_become_safe_key_segments(upload_url, filename, expected):
    logic = importlib.import_module("upload_url_logic")

    assert logic.safe_filename(filename) == expected


def test_the_browser_form_post_lands_the_file(served):
    # (moto does not enforce POST policies; the size condition is checked in the policy above.)
    # Given a ticket for a real photo
    ticket = body_of(invoke(served, load_event("upload_url_image")))
    data = photo_jpeg()

    # When the file is posted as a browser form would post it
    posted = requests.post(
        ticket["url"], data=ticket["fields"], files={"file": ("photo.jpg", data)}, timeout=30
    )

    # Then the object is in the bucket with its content type
    assert posted.status_code in (200, 201, 204), posted.text
    head = boto3.client("s3").head_object(Bucket=IMAGE_BUCKET, Key=ticket["key"])
    assert head["ContentLength"] == len(data)
    assert head["ContentType"] == "image/jpeg"
