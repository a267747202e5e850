"""Video contracts: every sample event round-trips; FIFO ids; the ASL's failure message parses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from pipeline_common.contracts.video import (
    FrameRecord,
    VideoFailed,
    fifo_ids,
    parse_stream_record,
    parse_video_message,
    video_id_for,
)

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"


@pytest.mark.parametrize("name", ["video_frame_record.json", "video_end_record.json"])
def test_stream_record_samples_round_trip(name):
    raw = json.loads((EVENTS / name).read_text())
    record = parse_stream_record(json.dumps(raw))
    assert json.loads(record.model_dump_json()) == raw


@pytest.mark.parametrize(
    "name", ["video_frame_result.json", "video_summary.json", "video_failed.json"]
)
def test_result_samples_round_trip(name):
    raw = json.loads((EVENTS / name).read_text())
    message = parse_video_message(json.dumps(raw))
    assert parse_video_message(message.model_dump_json()) == message
    assert message.kind == raw["kind"]


def test_fifo_ids():
    frame = parse_video_message((EVENTS / "video_frame_result.json").read_text())
    summary = parse_video_message((EVENTS / "video_summary.json").read_text())
    failed = parse_video_message((EVENTS / "video_failed.json").read_text())
    vid = "v0a1b2c3d4e5f6a7b8c9d"
    assert fifo_ids(frame) == (vid, f"{vid}:12")
    assert fifo_ids(summary) == (vid, f"{vid}:summary")
    assert fifo_ids(failed) == (vid, f"{vid}:failed:video")
    garbage = VideoFailed(
        video_id="unknown",
        level="frame",
        reason="x",
        failed_at=failed.failed_at,
        sequence_number="4" * 128,
    )
    assert len(fifo_ids(garbage)[1]) <= 128


def test_a_frame_record_needs_exactly_one_payload():
    fields = {"video_id": "v1", "frame_index": 0, "timestamp_ms": 0, "width": 2, "height": 2}
    with pytest.raises(ValidationError, match="exactly one"):
        FrameRecord(**fields)
    with pytest.raises(ValidationError, match="exactly one"):
        FrameRecord(**fields, data_b64="AA==", s3={"bucket": "bkt", "key": "k"})


def test_video_id_is_deterministic_and_valid():
    a = video_id_for("bucket", "a/b.mp4", "v1")
    assert a == video_id_for("bucket", "a/b.mp4", "v1") != video_id_for("bucket", "a/b.mp4", "v2")
    FrameRecord(video_id=a, frame_index=0, timestamp_ms=0, width=1, height=1, data_b64="")


def test_the_state_machine_failure_message_is_a_valid_contract():
    # Given the message body the ASL's Catch path sends, filled as Step Functions would
    asl = json.loads((ROOT / "statemachines" / "video_ingest.asl.json").read_text())
    body = asl["States"]["Report task failure"]["Parameters"]["MessageBody"]
    execution_input = json.loads((EVENTS / "video_ingest_input.json").read_text())
    filled = {k.removesuffix(".$"): v for k, v in body.items()}
    filled.update(
        video_id=execution_input["video_id"],
        reason="frame extractor task failed",
        source=execution_input["source"],
        failed_at="2025-01-01T00:00:00Z",
        correlation_id=execution_input["correlation_id"],
    )

    # When it is parsed as a video message
    message = parse_video_message(json.dumps(filled))

    # Then it is a video-level failure with the ASL's dedup id
    assert isinstance(message, VideoFailed)
    assert message.level == "video"
    params = asl["States"]["Report task failure"]["Parameters"]
    assert params["MessageDeduplicationId.$"] == "States.Format('{}:failed:video', $.video_id)"
    assert params["MessageGroupId.$"] == "$.video_id"


def test_the_state_machine_uses_the_agreed_substitutions():
    text = (ROOT / "statemachines" / "video_ingest.asl.json").read_text()
    for name in (
        "ClusterArn",
        "TaskDefinitionArn",
        "PrivateSubnet1",
        "PrivateSubnet2",
        "TaskSecurityGroup",
        "ContainerName",
        "ResultsQueueUrl",
    ):
        assert "${" + name + "}" in text
    overrides = json.loads(text)["States"]["Run frame extractor task"]["Parameters"]["Overrides"]
    names = {e["Name"] for e in overrides["ContainerOverrides"][0]["Environment"]}
    assert names == {"INPUT_BUCKET", "INPUT_KEY", "INPUT_VERSION_ID", "VIDEO_ID", "CORRELATION_ID"}
