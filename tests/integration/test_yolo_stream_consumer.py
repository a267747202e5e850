"""YOLO stream service against moto with the real person detector: records in, annotated frames,
detections JSON, FIFO messages and a summary out; restarts resume from the checkpoint; broken
records become frame-level failures while the consumer keeps going."""

from __future__ import annotations

import base64
import json
import time

import boto3
import cv2
import numpy as np
import pytest
from botocore.exceptions import ClientError

from pipeline_common.contracts.common import S3Location
from pipeline_common.contracts.video import (
    EndOfVideoRecord,
    FrameRecord,
    FrameResult,
    VideoFailed,
    VideoSummary,
)
from tests.support.video_samples import fall_model, pan_zoom_frames, photo, use_container
from tests.support.video_stream import (
    STREAM,
    TABLE,
    create_stream_resources,
    drain_video_messages,
)

use_container("yolo_stream")

from yolo_stream.detection import load_detector  # noqa: E402
from yolo_stream.service import YoloStreamService  # noqa: E402
from yolo_stream.settings import Settings  # noqa: E402

VIDEO = "vbus0001"


@pytest.fixture(scope="module")
def detector_settings():
    return {"yolo_model": str(fall_model("best_fp16.onnx")), "threads": 2}


@pytest.fixture(scope="module")
def detector(detector_settings):
    settings = Settings(
        stream_name="s",
        checkpoint_table="t",
        frames_bucket="bkt",
        results_queue_url="q",
        **detector_settings,
    )
    return load_detector(settings.detector_config())


# Every service a test made: the cloud fixture stops those a failed test left running.
_SERVICES: list[YoloStreamService] = []


@pytest.fixture
def cloud(mocked_aws: None):
    queue_url = create_stream_resources(1)
    try:
        yield queue_url
    finally:
        while _SERVICES:  # a failed test's services stop before their moto goes away
            _SERVICES.pop().stop(timeout=10)


def _service(queue_url: str, detector, detector_settings, worker: str) -> YoloStreamService:
    settings = Settings(
        stream_name=STREAM,
        checkpoint_table=TABLE,
        frames_bucket="video-frames",
        results_queue_url=queue_url,
        poll_interval_seconds=0.05,
        shard_refresh_seconds=0.2,
        worker_id=worker,
        **detector_settings,
    )
    service = YoloStreamService(settings, detector)
    _SERVICES.append(service)
    return service


def _run_until(service: YoloStreamService, outcomes: int, timeout: float = 120) -> None:
    service.start()
    deadline = time.monotonic() + timeout
    stats = service.stats
    while stats.frames_processed + stats.frames_failed + stats.videos_completed < outcomes:
        assert time.monotonic() < deadline, f"service stalled: {service.status()}"
        time.sleep(0.05)
    service.stop()


def _put(data: bytes, key: str = VIDEO) -> None:
    boto3.client("kinesis").put_record(StreamName=STREAM, Data=data, PartitionKey=key)


def _put_frames(indices: range, frames: list[np.ndarray]) -> None:
    for i in indices:
        jpeg = cv2.imencode(".jpg", frames[i])[1].tobytes()
        record = FrameRecord(
            video_id=VIDEO,
            frame_index=i,
            timestamp_ms=i * 100.0,
            total_frames=len(frames),
            width=640,
            height=360,
            data_b64=base64.b64encode(jpeg).decode(),
        )
        _put(record.model_dump_json().encode())


def _put_end(frames_sent: int) -> None:
    _put(
        EndOfVideoRecord(video_id=VIDEO, frames_sent=frames_sent, source_fps=10.0)
        .model_dump_json()
        .encode()
    )


def test_frames_become_s3_outputs_fifo_messages_and_a_summary(cloud, detector, detector_settings):
    # Given three frames of a pan over bus.jpg and the end marker on the stream
    frames = pan_zoom_frames(photo("bus.jpg"), 3)
    _put_frames(range(3), frames)
    _put_end(3)

    # When the service consumes the stream
    _run_until(_service(cloud, detector, detector_settings, "w1"), outcomes=4)

    # Then one message per frame (group = video, dedup = video:frame), then the summary
    messages = drain_video_messages(cloud)
    results = [m for m, _ in messages if isinstance(m, FrameResult)]
    assert [r.frame_index for r in results] == [0, 1, 2]
    attrs = [a for m, a in messages if isinstance(m, FrameResult)]
    assert attrs[1]["MessageGroupId"] == VIDEO
    assert attrs[1]["MessageDeduplicationId"] == f"{VIDEO}:1"
    # the detector finds the bus passengers, in source pixels
    assert all(r.detections for r in results)
    assert all(d.class_name in ("Normal", "Fall") for r in results for d in r.detections)
    assert all(0 <= d.box.x1 < d.box.x2 <= 640 for r in results for d in r.detections)
    # outputs exist: an annotated JPEG of the frame size and the same result as JSON
    s3 = boto3.client("s3")
    jpg = s3.get_object(Bucket="video-frames", Key=results[0].outputs.annotated.key)["Body"].read()
    assert cv2.imdecode(np.frombuffer(jpg, np.uint8), cv2.IMREAD_COLOR).shape == (360, 640, 3)
    assert results[0].outputs.detections.key == f"frames/{VIDEO}/000000.json"
    stored = s3.get_object(Bucket="video-frames", Key=f"frames/{VIDEO}/000002.json")["Body"]
    assert FrameResult.model_validate(json.loads(stored.read())) == results[2]
    (summary,) = [m for m, _ in messages if isinstance(m, VideoSummary)]
    assert (summary.frames, summary.frames_failed, summary.frames_sent) == (3, 0, 3)
    assert summary.detections == sum(len(r.detections) for r in results)
    assert sum(summary.class_counts.values()) == summary.detections
    assert summary.model == detector.model_id


def test_restart_resumes_after_the_last_checkpoint(cloud, detector, detector_settings):
    # Given a first worker that processed frames 0-1 and stopped
    frames = pan_zoom_frames(photo("zidane.jpg"), 4)
    _put_frames(range(2), frames)
    _run_until(_service(cloud, detector, detector_settings, "w1"), outcomes=2)
    first = drain_video_messages(cloud)

    # When frames 2-3 and the end marker arrive and a new worker starts
    _put_frames(range(2, 4), frames)
    _put_end(4)
    second_service = _service(cloud, detector, detector_settings, "w2")
    _run_until(second_service, outcomes=3)

    # Then the new worker processed only the new frames, and the summary counts all four
    second = drain_video_messages(cloud)
    assert [m.frame_index for m, _ in first] == [0, 1]
    assert [m.frame_index for m, _ in second if isinstance(m, FrameResult)] == [2, 3]
    assert second_service.stats.frames_processed == 2
    (summary,) = [m for m, _ in second if isinstance(m, VideoSummary)]
    assert (summary.frames, summary.frames_failed) == (4, 0)
    item = boto3.client("dynamodb").get_item(
        TableName=TABLE, Key={"shard_key": {"S": f"{STREAM}:shardId-000000000000"}}
    )["Item"]
    assert "owner" not in item  # released at stop, so the next worker need not wait


def test_broken_records_fail_alone_and_the_consumer_keeps_going(cloud, detector, detector_settings):
    # Given garbage, a frame whose S3 reference is gone, a non-JPEG frame, then a good frame
    frames = pan_zoom_frames(photo("bus.jpg"), 4)
    _put(b"\x00\x01 not json at all")
    missing = FrameRecord(
        video_id=VIDEO,
        frame_index=0,
        timestamp_ms=0,
        width=640,
        height=360,
        s3=S3Location(bucket="video-frames", key="oversize/gone.jpg"),
    )
    _put(missing.model_dump_json().encode())
    not_jpeg = FrameRecord(
        video_id=VIDEO,
        frame_index=1,
        timestamp_ms=100,
        width=640,
        height=360,
        data_b64=base64.b64encode(b"nope").decode(),
    )
    _put(not_jpeg.model_dump_json().encode())
    _put(json.dumps({"video_id": VIDEO, "frame_index": 2, "kind": "frame"}).encode())
    _put_frames(range(3, 4), frames)
    _put_end(4)

    # When the service consumes the stream
    _run_until(_service(cloud, detector, detector_settings, "w1"), outcomes=6)

    # Then each broken record produced one frame-level failure with a clear reason
    messages = [m for m, _ in drain_video_messages(cloud)]
    failures = [m for m in messages if isinstance(m, VideoFailed)]
    assert all(f.level == "frame" for f in failures)
    reasons = {f.frame_index: f.reason for f in failures}
    assert "invalid frame record" in reasons[None]
    assert "oversize/gone.jpg cannot be read" in reasons[0]
    assert "not a decodable JPEG" in reasons[1]
    assert "invalid frame record" in reasons[2]
    garbage = next(f for f in failures if f.frame_index is None)
    assert garbage.video_id == "unknown"
    assert garbage.sequence_number
    # and the good frame after them was processed, and the summary counts 1 ok + 3 failed
    assert [m.frame_index for m in messages if isinstance(m, FrameResult)] == [3]
    (summary,) = [m for m in messages if isinstance(m, VideoSummary)]
    assert (summary.frames, summary.frames_failed) == (1, 3)


class _FlakyS3:
    """The real (moto) S3 client, except that one upload fails once as an outage would."""

    def __init__(self, real, fail_key: str) -> None:
        self._real = real
        self._fail_key = fail_key
        self.failures = 0

    def put_object(self, **kwargs):
        if kwargs["Key"] == self._fail_key and not self.failures:
            self.failures += 1
            raise ClientError({"Error": {"Code": "InternalError", "Message": "boom"}}, "PutObject")
        return self._real.put_object(**kwargs)

    def __getattr__(self, name):
        return getattr(self._real, name)


def test_an_output_failure_loses_nothing(cloud, detector, detector_settings):
    # Given four frames, and S3 failing once while frame 1's annotated JPEG is uploaded
    frames = pan_zoom_frames(photo("bus.jpg"), 4)
    _put_frames(range(4), frames)
    _put_end(4)
    service = _service(cloud, detector, detector_settings, "w1")
    flaky = _FlakyS3(service.processor._s3, f"frames/{VIDEO}/000001.jpg")
    service.processor._s3 = flaky

    # When the service consumes the stream
    _run_until(service, outcomes=5)

    # Then the failure happened, yet every frame has exactly one message and the summary is whole
    assert flaky.failures == 1
    messages = [m for m, _ in drain_video_messages(cloud)]
    assert sorted(m.frame_index for m in messages if isinstance(m, FrameResult)) == [0, 1, 2, 3]
    (summary,) = [m for m in messages if isinstance(m, VideoSummary)]
    assert (summary.frames, summary.frames_failed) == (4, 0)
