"""Frame extractor against moto: real generated videos in, Kinesis records out; bad inputs end in
one video-level failure message."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import boto3
import cv2
import numpy as np
import pytest

from pipeline_common import aws
from pipeline_common.contracts.video import (
    EndOfVideoRecord,
    FrameRecord,
    VideoFailed,
    parse_stream_record,
)
from tests.support.video_samples import make_video, photo, use_container

use_container("frame_extractor")

from frame_extractor.errors import InputRejected, TruncatedVideo  # noqa: E402
from frame_extractor.ingest import FrameIngest  # noqa: E402
from frame_extractor.settings import Settings  # noqa: E402

STREAM = "VideoFrameStream"
VIDEO_ID = "vtest0001"


@pytest.fixture
def cloud(mocked_aws: None):
    s3 = boto3.client("s3")
    for bucket in ("video-input", "video-frames"):
        s3.create_bucket(Bucket=bucket)
    boto3.client("kinesis").create_stream(StreamName=STREAM, ShardCount=1)
    queue_url = boto3.client("sqs").create_queue(
        QueueName="video-results.fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    return {"s3": s3, "queue_url": queue_url}


def _ingest(cloud, key: str, body: bytes, **env) -> FrameIngest:
    cloud["s3"].put_object(Bucket="video-input", Key=key, Body=body)
    settings = Settings(
        input_bucket="video-input",
        input_key=key,
        video_id=VIDEO_ID,
        stream_name=STREAM,
        frames_bucket="video-frames",
        results_queue_url=cloud["queue_url"],
        **env,
    )
    return FrameIngest(
        settings, s3=aws.client("s3"), kinesis=aws.client("kinesis"), sqs=aws.client("sqs")
    )


def _stream_records() -> list:
    kinesis = boto3.client("kinesis")
    shard = kinesis.list_shards(StreamName=STREAM)["Shards"][0]["ShardId"]
    it = kinesis.get_shard_iterator(
        StreamName=STREAM, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = kinesis.get_records(ShardIterator=it, Limit=1000)["Records"]
    assert all(r["PartitionKey"] == VIDEO_ID for r in records)
    return [parse_stream_record(r["Data"]) for r in records]


def _failures(queue_url: str) -> list[VideoFailed]:
    messages = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [VideoFailed.model_validate_json(m["Body"]) for m in messages.get("Messages", [])]


@pytest.mark.parametrize("extension", [".mp4", ".avi", ".mov", ".MKV"])
def test_every_frame_goes_to_the_stream_then_the_end_marker(cloud, tmp_path: Path, extension):
    # Given a 12-frame video panning over bus.jpg
    video = make_video(tmp_path / f"bus{extension.lower()}", frames=12, fps=10)

    # When the extractor ingests it
    report = _ingest(cloud, f"in/bus{extension}", video.read_bytes()).run()

    # Then 12 frame records in order, then one end marker, all decodable JPEGs of the video size
    records = _stream_records()
    frames, end = records[:-1], records[-1]
    assert [f.frame_index for f in frames] == list(range(12))
    assert all(isinstance(f, FrameRecord) and f.total_frames == 12 for f in frames)
    assert [f.timestamp_ms for f in frames[:3]] == [0.0, 100.0, 200.0]
    jpeg = cv2.imdecode(
        np.frombuffer(base64.b64decode(frames[5].data_b64), np.uint8), cv2.IMREAD_COLOR
    )
    assert jpeg.shape == (360, 640, 3)
    assert isinstance(end, EndOfVideoRecord)
    assert (end.frames_sent, end.last_frame_index, end.source_fps) == (12, 11, 10.0)
    assert report.frames_sent == 12
    assert report.rejected is None
    assert _failures(cloud["queue_url"]) == []


def test_target_fps_samples_frames(cloud, tmp_path: Path):
    # Given a 10 fps video of 12 frames and a 2.5 fps target
    video = make_video(tmp_path / "bus.avi", frames=12, fps=10)

    # When it is ingested
    _ingest(cloud, "bus.avi", video.read_bytes(), target_fps=2.5).run()

    # Then every 4th frame is sent
    frames = [r for r in _stream_records() if isinstance(r, FrameRecord)]
    assert [f.frame_index for f in frames] == [0, 4, 8]


def test_frames_over_the_record_limit_go_to_s3(cloud, tmp_path: Path):
    # Given a record limit smaller than one frame
    video = make_video(tmp_path / "bus.mp4", frames=3, fps=10)

    # When it is ingested
    report = _ingest(cloud, "bus.mp4", video.read_bytes(), max_record_bytes=1024).run()

    # Then each record references its JPEG in the frames bucket
    frames = [r for r in _stream_records() if isinstance(r, FrameRecord)]
    assert report.frames_oversize == 3
    assert frames[1].data_b64 is None
    assert frames[1].s3.key == f"oversize/{VIDEO_ID}/000001.jpg"
    body = cloud["s3"].get_object(Bucket="video-frames", Key=frames[1].s3.key)["Body"].read()
    assert cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR).shape == (360, 640, 3)


def _truncated(tmp_path: Path, extension: str) -> bytes:
    data = make_video(tmp_path / f"bus{extension}", frames=20, fps=10).read_bytes()
    return data[: len(data) * 6 // 10]


@pytest.mark.parametrize(
    ("key", "body", "reason"),
    [
        ("empty.mp4", lambda tmp: b"", "empty (0 bytes)"),
        ("notes.mp4", lambda tmp: b"just some text, not a video\n" * 50, "not a video file"),
        ("photo.mov", lambda tmp: photo().read_bytes(), "not a video file"),
        ("cut.mp4", lambda tmp: _truncated(tmp, ".mp4"), "corrupt or truncated"),
        ("clip.webm", lambda tmp: b"\x1a\x45\xdf\xa3", "unsupported extension '.webm'"),
    ],
)
def test_bad_inputs_end_in_one_video_level_failure(cloud, tmp_path: Path, key, body, reason):
    # Given a bad input
    ingest = _ingest(cloud, key, body(tmp_path))

    # When it is ingested
    with pytest.raises(InputRejected):
        ingest.run()

    # Then one video-level failure names the reason, no frame was sent, the input is kept
    (failure,) = _failures(cloud["queue_url"])
    assert failure.level == "video"
    assert reason in failure.reason
    assert failure.source.key == key
    assert _stream_records() == []
    assert cloud["s3"].head_object(Bucket="video-input", Key=key)


def test_truncated_avi_sends_the_frames_before_the_damage(cloud, tmp_path: Path):
    # Given an AVI cut at 60% of its bytes
    ingest = _ingest(cloud, "cut.avi", _truncated(tmp_path, ".avi"))

    # When it is ingested
    with pytest.raises(TruncatedVideo):
        ingest.run()

    # Then the decodable frames and the end marker were sent, and the loss is reported
    records = _stream_records()
    frames = [r for r in records if isinstance(r, FrameRecord)]
    assert 0 < len(frames) < 20
    assert isinstance(records[-1], EndOfVideoRecord)
    (failure,) = _failures(cloud["queue_url"])
    assert failure.level == "video"
    assert "of 20 frames" in failure.reason
    assert json.loads(failure.model_dump_json())["kind"] == "video.failed"


def test_blank_overrides_from_the_state_machine_mean_unset(monkeypatch):
    # Given the environment an unversioned object's task gets (empty INPUT_VERSION_ID)
    for name, value in {
        "INPUT_BUCKET": "video-input",
        "INPUT_KEY": "a.mp4",
        "VIDEO_ID": "v1",
        "INPUT_VERSION_ID": "",
        "TARGET_FPS": "",
        "STREAM_NAME": STREAM,
        "FRAMES_BUCKET": "video-frames",
        "RESULTS_QUEUE_URL": "q",
    }.items():
        monkeypatch.setenv(name, value)

    # When the settings are read
    settings = Settings()

    # Then blanks are unset, not invalid
    assert settings.input_version_id is None
    assert settings.target_fps is None
