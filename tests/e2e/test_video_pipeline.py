"""The video pipeline end to end on the local cloud: S3 video -> dispatcher -> Step Functions ->
frame extractor (Fargate task) -> Kinesis -> YOLO service (ECS, ONNX Runtime, a real person
detector) -> annotated frames in S3 + one FIFO message per frame + an end-of-video summary. The
happy path takes ``any_stack``: it runs on a deployed stack too (``AWS_SAM_STACK_NAME``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from pipeline_common.contracts.video import video_id_for
from tests.e2e.conftest import QueueRecorder, RestApi
from tests.support.stack import queue_recorder
from tests.support.stack_interface import Stack
from tests.support.video_samples import make_video
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def video_results(stack: LocalCloud) -> QueueRecorder:
    return queue_recorder(stack, "VideoProcessingQueueUrl")


def _upload(stack: LocalCloud, key: str, data: bytes) -> None:
    stack.client("s3").put_object(Bucket=stack.outputs["VideoInputBucketName"], Key=key, Body=data)


def test_video_becomes_detections_annotated_frames_and_a_summary(any_stack: Stack, tmp_path: Path):
    # Given a short real video: a pan and zoom over a street photo with people in it
    video = make_video(tmp_path / "street.mp4", frames=20, fps=10.0)
    alice, bob = any_stack.new_user("alice"), any_stack.new_user("bob")
    rest = RestApi(any_stack.outputs["RestApiUrl"])
    s3, results = any_stack.client("s3"), any_stack.messages("VideoProcessingQueueUrl")

    # When Alice uploads it to the video input bucket (under her prefix, as POST /uploads does)
    bucket, key = any_stack.outputs["VideoInputBucketName"], f"{alice.uploads}street.mp4"
    put = s3.put_object(Bucket=bucket, Key=key, Body=video.read_bytes())
    video_id = video_id_for(bucket, key, put.get("VersionId") or put["ETag"].strip('"'))

    def of_video(kind: str) -> Callable[[dict[str, Any]], bool]:
        return lambda m: m.get("kind") == kind and m.get("video_id") == video_id

    # Then an end-of-video summary arrives after the sampled frames (every 5th frame: 4)
    def summary() -> list[dict[str, Any]]:
        return [
            m
            for m in results.received(of_video("video.summary"))
            if m["frames_sent"] == 4 and m["class_counts"]
        ]

    [done] = wait_for(summary, timeout=2 * any_stack.task_timeout, what="the video summary")
    frames = sorted(results.received(of_video("video.frame")), key=lambda m: m["frame_index"])
    assert [f["frame_index"] for f in frames] == [0, 5, 10, 15]
    assert done["frames"] == 4
    assert done["frames_failed"] == 0

    # And each frame names the people the detector found, with boxes inside the frame
    people = [d for f in frames for d in f["detections"]]
    assert people, "the person detector found nobody in a street photo"
    for frame in frames:
        for detection in frame["detections"]:
            box = detection["box"]
            assert 0 <= box["x1"] < box["x2"] <= frame["width"]
            assert 0 <= box["y1"] < box["y2"] <= frame["height"]
            assert 0.0 < detection["confidence"] <= 1.0
    assert sum(done["class_counts"].values()) == len(people)

    # And the annotated JPEG and the detections JSON of every frame are in the frames bucket
    for frame in frames:
        annotated = frame["outputs"]["annotated"]
        body = s3.get_object(Bucket=annotated["bucket"], Key=annotated["key"])["Body"].read()
        assert body[:2] == b"\xff\xd8"
        stored = frame["outputs"]["detections"]
        saved = json.loads(s3.get_object(Bucket=stored["bucket"], Key=stored["key"])["Body"].read())
        assert len(saved["detections"]) == len(frame["detections"])

    # And the API pages the frames to Alice, and to no other user
    [ref] = rest("GET", "/videos", user=alice, params={"key": key}).json()["videos"]
    assert ref["video_id"] == video_id
    page = rest("GET", f"/videos/{video_id}/frames", user=alice).json()
    assert [f["frame"]["frame_index"] for f in page["frames"]] == [0, 5, 10, 15]
    assert rest("GET", f"/videos/{video_id}/frames", user=bob).status_code == 404
    assert rest("GET", "/videos", user=bob, params={"key": key}).status_code == 404


@pytest.mark.parametrize(
    ("key", "data", "reason"),
    [
        ("videos/empty.mp4", b"", "empty"),
        ("videos/notes.mp4", b"these are meeting notes, not a video\n" * 20, "not a video"),
    ],
    ids=["zero-bytes", "not-a-video"],
)
def test_bad_video_ends_in_one_video_level_failure_and_is_kept(
    stack, video_results, key, data, reason
):
    # Given a bad upload / When it is uploaded
    _upload(stack, key, data)

    # Then one video-level failure names it, with a clear reason, and the input is kept
    def failures() -> list[dict[str, Any]]:
        return [
            m
            for m in video_results.matching(kind="video.failed")
            if (m.get("source") or {}).get("key") == key
        ]

    [failure] = wait_for(failures, timeout=120, what=f"the failure of {key}")
    assert failure["level"] == "video"
    assert reason in failure["reason"].lower(), failure["reason"]
    assert stack.client("s3").head_object(Bucket=stack.outputs["VideoInputBucketName"], Key=key)
    time.sleep(2)
    assert len(failures()) == 1


def test_garbage_stream_record_is_a_frame_failure_and_the_service_keeps_going(
    stack, video_results, tmp_path: Path
):
    # Given a record on the stream that is not a frame
    kinesis = stack.client("kinesis")
    stream = stack.outputs["VideoFrameStreamName"]
    kinesis.put_record(StreamName=stream, PartitionKey="garbage", Data=b"\x00not json\xff")

    # When a real video follows it
    video = make_video(tmp_path / "after.mp4", frames=10, fps=10.0)
    _upload(stack, "videos/after-garbage.mp4", video.read_bytes())

    # Then the garbage is reported as a frame-level failure and the video is still processed
    wait_for(
        lambda: [
            m
            for m in video_results.matching(kind="video.failed")
            if m["level"] == "frame" and m.get("sequence_number")
        ],
        timeout=120,
        what="the garbage record's failure",
    )
    wait_for(
        lambda: [m for m in video_results.matching(kind="video.summary") if m["frames_sent"] == 2],
        timeout=180,
        what="the summary of the video after the garbage",
    )
