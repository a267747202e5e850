"""VideoFramesFunction against moto: frames paged in order with presigned JPEG links, the summary
with the last page, the known videos, and an upload's video id as the dispatcher derives it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from urllib.parse import urlparse

import boto3
import pytest
from moto import mock_aws

from pipeline_common import aws
from pipeline_common.contracts.video import video_id_for
from tests.support.functions import load_function
from tests.support.test_api_aws import EVENTS, FakeLambdaContext, body_of, load_event
from tests.support.video_samples import put_frame_outputs

INPUT_BUCKET = "console-video-input"
FRAMES_BUCKET = "console-video-frames"
VIDEO_ID = load_event("video_frames_get")["pathParameters"]["video_id"]


@pytest.fixture
def video_frames(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    with mock_aws():
        aws.clear_clients()
        s3 = boto3.client("s3")
        for bucket in (INPUT_BUCKET, FRAMES_BUCKET):
            s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=INPUT_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        monkeypatch.setenv("VIDEO_INPUT_BUCKET", INPUT_BUCKET)
        monkeypatch.setenv("VIDEO_FRAMES_BUCKET", FRAMES_BUCKET)
        monkeypatch.setenv("MAX_FRAMES_PER_PAGE", "3")
        yield load_function("video_frames")
    aws.clear_clients()


def put_frame(index: int, classes: list[str], video_id: str = VIDEO_ID) -> None:
    put_frame_outputs(
        boto3.client("s3"), FRAMES_BUCKET, video_id, index, classes, b"\xff\xd8 annotated"
    )


def put_summary(video_id: str = VIDEO_ID) -> dict:
    summary = json.loads((EVENTS / "video_summary.json").read_text())
    summary["video_id"] = video_id
    boto3.client("s3").put_object(
        Bucket=FRAMES_BUCKET,
        Key=f"frames/{video_id}/summary.json",
        Body=json.dumps(summary).encode(),
    )
    return summary


def frames(fn: ModuleType, after: int | None = None, video_id: str = VIDEO_ID) -> dict:
    event = load_event("video_frames_get")
    event["pathParameters"] = {"video_id": video_id}
    event["path"] = f"/videos/{video_id}/frames"
    event["queryStringParameters"] = None if after is None else {"after": str(after)}
    event["multiValueQueryStringParameters"] = None if after is None else {"after": [str(after)]}
    response = fn.lambda_handler(event, FakeLambdaContext())
    assert response["statusCode"] == 200, response
    return body_of(response)


def indices(page: dict) -> list[int]:
    return [view["frame"]["frame_index"] for view in page["frames"]]


def test_frames_come_in_order_page_by_page_each_once(video_frames):
    # Given five frames (written out of order) and the summary
    for index in (10, 0, 5, 15, 20):
        put_frame(index, ["person"])
    summary = put_summary()

    # When a console polls with the last index it saw
    first = frames(video_frames)
    second = frames(video_frames, first["next_after"])
    third = frames(video_frames, second["next_after"])

    # Then it gets every frame once, in order, and the summary only with the last one
    assert (indices(first), first["more"], first.get("summary")) == ([0, 5, 10], True, None)
    assert (indices(second), second["more"]) == ([15, 20], False)
    assert second["summary"]["class_counts"] == summary["class_counts"]
    assert (indices(third), third["next_after"]) == ([], 20)


def test_each_frame_has_its_detections_and_a_presigned_jpeg(video_frames):
    put_frame(3, ["person", "car"])

    [view] = frames(video_frames)["frames"]

    assert [d["class_name"] for d in view["frame"]["detections"]] == ["person", "car"]
    url = view["annotated_url"]
    parsed = urlparse(url)
    assert FRAMES_BUCKET in parsed.netloc + parsed.path
    assert parsed.path.endswith(f"frames/{VIDEO_ID}/000003.jpg")
    assert "X-Amz-Signature=" in url


def test_the_sample_event_asks_for_frames_after_four(video_frames):
    for index in (4, 8):
        put_frame(index, [])

    response = video_frames.lambda_handler(load_event("video_frames_get"), FakeLambdaContext())

    assert indices(body_of(response)) == [8]


def test_a_video_without_frames_yet_is_an_empty_page(video_frames):
    page = frames(video_frames, 7)

    assert (page["frames"], page["next_after"], page["more"]) == ([], 7, False)


@pytest.mark.parametrize(
    ("video_id", "after"), [("bad..id", None), ("a" * 65, None), (VIDEO_ID, "x"), (VIDEO_ID, "-2")]
)
def test_bad_ids_and_positions_are_400(video_frames, video_id, after):
    event = load_event("video_frames_get")
    event["pathParameters"] = {"video_id": video_id}
    event["path"] = f"/videos/{video_id}/frames"
    event["queryStringParameters"] = {"after": after} if after else None

    response = video_frames.lambda_handler(event, FakeLambdaContext())

    assert response["statusCode"] == 400
    assert body_of(response)["error"]["field"] in ("video_id", "after")


def test_known_videos_are_listed(video_frames):
    put_frame(0, [], video_id="vaaaa")
    put_frame(0, [], video_id="vbbbb")

    response = video_frames.lambda_handler(load_event("video_frames_list"), FakeLambdaContext())

    assert [v["video_id"] for v in body_of(response)["videos"]] == ["vaaaa", "vbbbb"]


def test_an_upload_key_resolves_to_the_dispatchers_video_id(video_frames):
    # Given an uploaded video (a versioned bucket, as in the template)
    event = load_event("video_frames_lookup")
    key = event["queryStringParameters"]["key"]
    version = boto3.client("s3").put_object(Bucket=INPUT_BUCKET, Key=key, Body=b"mp4")["VersionId"]

    # When the console asks which video it became
    response = video_frames.lambda_handler(event, FakeLambdaContext())

    # Then it is the id the dispatcher derives from the same bucket, key and version
    [video] = body_of(response)["videos"]
    assert video["video_id"] == video_id_for(INPUT_BUCKET, key, version)
    assert video["version_id"] == version


def test_an_unknown_upload_key_is_404(video_frames):
    response = video_frames.lambda_handler(load_event("video_frames_lookup"), FakeLambdaContext())

    assert response["statusCode"] == 404
