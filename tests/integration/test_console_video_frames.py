"""VideoFramesFunction against moto: frames paged in order with presigned JPEG links, the summary
with the last page, the caller's videos, and an upload's video id as the dispatcher derives it.
A video is its uploader's (``uploads/<sub>/`` in the input bucket) and every admin's."""

from __future__ import annotations

import json
import uuid
from types import ModuleType
from urllib.parse import parse_qs, urlparse

import boto3
import pytest

from pipeline_common.contracts.video import video_id_for
from tests.support.api_aws import EVENTS, FakeLambdaContext, body_of, load_event
from tests.support.functions import load_function
from tests.support.tenancy import ALICE, BOB, CAROL_ADMIN, User, as_user, without_claims
from tests.support.video_samples import put_frame_outputs

INPUT_BUCKET = "console-video-input"
FRAMES_BUCKET = "console-video-frames"


@pytest.fixture
def video_frames(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    s3 = boto3.client("s3")
    for bucket in (INPUT_BUCKET, FRAMES_BUCKET):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=INPUT_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    monkeypatch.setenv("VIDEO_INPUT_BUCKET", INPUT_BUCKET)
    monkeypatch.setenv("VIDEO_FRAMES_BUCKET", FRAMES_BUCKET)
    monkeypatch.setenv("MAX_FRAMES_PER_PAGE", "3")
    return load_function("video_frames")


def upload_video(user: User, name: str = "street.mp4") -> str:
    """Put a video where POST /uploads sends ``user``'s; its id as the dispatcher derives it."""
    key = f"{user.uploads}{uuid.uuid4().hex}-{name}"
    version = boto3.client("s3").put_object(Bucket=INPUT_BUCKET, Key=key, Body=b"mp4")["VersionId"]
    return video_id_for(INPUT_BUCKET, key, version)


@pytest.fixture
def alices_video(video_frames) -> str:
    return upload_video(ALICE)


def put_frame(video_id: str, index: int, classes: list[str]) -> None:
    put_frame_outputs(
        boto3.client("s3"), FRAMES_BUCKET, video_id, index, classes, b"\xff\xd8 annotated"
    )


def put_summary(video_id: str) -> dict:
    summary = json.loads((EVENTS / "video_summary.json").read_text())
    summary["video_id"] = video_id
    boto3.client("s3").put_object(
        Bucket=FRAMES_BUCKET,
        Key=f"frames/{video_id}/summary.json",
        Body=json.dumps(summary).encode(),
    )
    return summary


def frames_event(video_id: str, after: int | None = None, user: User = ALICE) -> dict:
    event = as_user(load_event("video_frames_get"), user)
    event["pathParameters"] = {"video_id": video_id}
    event["path"] = f"/videos/{video_id}/frames"
    event["queryStringParameters"] = None if after is None else {"after": str(after)}
    event["multiValueQueryStringParameters"] = None if after is None else {"after": [str(after)]}
    return event


def call(fn: ModuleType, event: dict) -> dict:
    return fn.lambda_handler(event, FakeLambdaContext())


def frames(fn: ModuleType, video_id: str, after: int | None = None, user: User = ALICE) -> dict:
    response = call(fn, frames_event(video_id, after, user))
    assert response["statusCode"] == 200, response
    return body_of(response)


def indices(page: dict) -> list[int]:
    return [view["frame"]["frame_index"] for view in page["frames"]]


def listed(fn: ModuleType, user: User) -> list[dict]:
    response = call(fn, as_user(load_event("video_frames_list"), user))
    assert response["statusCode"] == 200, response
    return body_of(response)["videos"]


def test_frames_come_in_order_page_by_page_each_once(video_frames, alices_video):
    # Given five frames of Alice's video (written out of order) and the summary
    for index in (10, 0, 5, 15, 20):
        put_frame(alices_video, index, ["person"])
    summary = put_summary(alices_video)

    # When her console polls with the last index it saw
    first = frames(video_frames, alices_video)
    second = frames(video_frames, alices_video, first["next_after"])
    third = frames(video_frames, alices_video, second["next_after"])

    # Then it gets every frame once, in order, and the summary only with the last one
    assert (indices(first), first["more"], first.get("summary")) == ([0, 5, 10], True, None)
    assert (indices(second), second["more"]) == ([15, 20], False)
    assert second["summary"]["class_counts"] == summary["class_counts"]
    assert (indices(third), third["next_after"]) == ([], 20)


def test_each_frame_has_its_detections_and_a_short_lived_presigned_jpeg(video_frames, alices_video):
    put_frame(alices_video, 3, ["person", "car"])

    [view] = frames(video_frames, alices_video)["frames"]

    assert [d["class_name"] for d in view["frame"]["detections"]] == ["person", "car"]
    parsed = urlparse(view["annotated_url"])
    assert FRAMES_BUCKET in parsed.netloc + parsed.path
    assert parsed.path.endswith(f"frames/{alices_video}/000003.jpg")
    query = parse_qs(parsed.query)
    assert "X-Amz-Signature" in query
    assert int(query["X-Amz-Expires"][0]) <= 300


def test_the_sample_event_asks_for_frames_after_four(video_frames, alices_video):
    for index in (4, 8):
        put_frame(alices_video, index, [])
    event = load_event("video_frames_get")
    event["pathParameters"] = {"video_id": alices_video}
    event["path"] = f"/videos/{alices_video}/frames"

    response = call(video_frames, event)

    assert indices(body_of(response)) == [8]


def test_an_own_video_without_frames_yet_is_an_empty_page(video_frames, alices_video):
    page = frames(video_frames, alices_video, 7)

    assert (page["frames"], page["next_after"], page["more"]) == ([], 7, False)


@pytest.mark.parametrize(
    ("video_id", "after"),
    [("bad..id", None), ("a" * 65, None), ("v0123456789", "x"), ("v0123456789", "-2")],
)
def test_bad_ids_and_positions_are_400(video_frames, video_id, after):
    event = frames_event(video_id)
    event["queryStringParameters"] = {"after": after} if after else None

    response = call(video_frames, event)

    assert response["statusCode"] == 400
    assert body_of(response)["error"]["field"] in ("video_id", "after")


def test_another_users_video_is_the_same_404_as_a_missing_one(video_frames, alices_video):
    # Given Alice's processed video
    put_frame(alices_video, 0, ["person"])

    # When Bob asks for its frames, and for a video that does not exist
    foreign = call(video_frames, frames_event(alices_video, user=BOB))
    missing = call(video_frames, frames_event("v00000000000000000000", user=BOB))

    # Then both are 404 with the same error, and no frame leaks
    assert foreign["statusCode"] == missing["statusCode"] == 404
    assert body_of(foreign)["error"]["code"] == body_of(missing)["error"]["code"] == "unknown_video"
    assert "frames" not in body_of(foreign)


def test_an_admin_sees_any_users_frames(video_frames, alices_video):
    put_frame(alices_video, 0, ["person"])

    page = frames(video_frames, alices_video, user=CAROL_ADMIN)

    assert indices(page) == [0]


def test_a_user_lists_only_their_own_processed_videos(video_frames):
    # Given Alice's processed and unprocessed videos, and Bob's processed one
    alices = upload_video(ALICE)
    upload_video(ALICE, "not-processed-yet.mp4")
    bobs = upload_video(BOB)
    for video_id in (alices, bobs):
        put_frame(video_id, 0, ["person"])

    # When each lists their videos
    alice_sees = listed(video_frames, ALICE)
    bob_sees = listed(video_frames, BOB)

    # Then each sees their own processed video, with the upload it came from
    assert [v["video_id"] for v in alice_sees] == [alices]
    assert alice_sees[0]["key"].startswith(ALICE.uploads)
    assert [v["video_id"] for v in bob_sees] == [bobs]


def test_an_admin_lists_every_processed_video(video_frames):
    put_frame("vaaaa", 0, [])
    put_frame("vbbbb", 0, [])

    assert [v["video_id"] for v in listed(video_frames, CAROL_ADMIN)] == ["vaaaa", "vbbbb"]
    assert listed(video_frames, ALICE) == []


def test_an_upload_key_resolves_to_the_dispatchers_video_id(video_frames):
    # Given Alice's uploaded video (a versioned bucket, as in the template)
    event = load_event("video_frames_lookup")
    key = event["queryStringParameters"]["key"]
    version = boto3.client("s3").put_object(Bucket=INPUT_BUCKET, Key=key, Body=b"mp4")["VersionId"]

    # When her console asks which video it became
    response = call(video_frames, event)

    # Then it is the id the dispatcher derives from the same bucket, key and version
    [video] = body_of(response)["videos"]
    assert video["video_id"] == video_id_for(INPUT_BUCKET, key, version)
    assert video["version_id"] == version


def test_an_unknown_upload_key_is_404(video_frames):
    response = call(video_frames, load_event("video_frames_lookup"))

    assert response["statusCode"] == 404


def test_another_users_upload_key_is_the_same_404_as_a_missing_one(video_frames):
    # Given Bob's answer for Alice's sample key before it exists
    event = as_user(load_event("video_frames_lookup"), BOB)
    before = call(video_frames, event)

    # When the video is uploaded and Bob asks again
    key = event["queryStringParameters"]["key"]
    boto3.client("s3").put_object(Bucket=INPUT_BUCKET, Key=key, Body=b"mp4")
    after = call(video_frames, event)

    # Then nothing tells him it exists; an admin does get it
    assert (before["statusCode"], before["body"]) == (after["statusCode"], after["body"])
    assert after["statusCode"] == 404
    admin = call(video_frames, as_user(event, CAROL_ADMIN))
    assert admin["statusCode"] == 200


def test_an_upload_key_with_dot_segments_is_400(video_frames):
    event = load_event("video_frames_lookup")
    event["queryStringParameters"]["key"] = f"{ALICE.uploads}../{BOB.sub}/x.mp4"

    response = call(video_frames, event)

    assert response["statusCode"] == 400
    assert body_of(response)["error"]["code"] == "invalid_key"


@pytest.mark.parametrize("name", ["video_frames_get", "video_frames_list", "video_frames_lookup"])
def test_a_request_without_verified_claims_is_401(video_frames, name):
    response = call(video_frames, without_claims(load_event(name)))

    assert response["statusCode"] == 401
