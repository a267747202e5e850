"""Contracts of the video pipeline (README, "The pipelines").

- On ``VideoFrameStream`` (Kinesis, partition key = video id, so one video's records keep their
  order within a shard): :class:`FrameRecord` per sampled frame, then one :class:`EndOfVideoRecord`.
- On ``VideoProcessingQueue`` (SQS FIFO, group = video id): :class:`FrameResult` per frame,
  :class:`VideoSummary` after the last frame, :class:`VideoFailed` for a rejected video or frame.

The FIFO ids are computed here, once, so every producer of a message uses the same ones and a
redelivered frame is dropped by SQS's deduplication rather than shown twice.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter, model_validator

from pipeline_common.contracts.common import Contract, S3Location

VIDEO_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
# The group of failures about records too broken to name their video.
UNKNOWN_VIDEO_ID = "unknown"
VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv"})
# Kinesis caps one record (data + partition key) at 1 MiB.
KINESIS_MAX_RECORD_BYTES = 1024 * 1024

VideoId = Annotated[str, Field(pattern=VIDEO_ID_PATTERN)]


def video_id_for(bucket: str, key: str, version: str | None) -> str:
    """Deterministic id of one object version (or ETag): re-delivered events map to one video."""
    digest = hashlib.sha256(f"{bucket}/{key}/{version or ''}".encode()).hexdigest()
    return f"v{digest[:20]}"


# --- Kinesis records --------------------------------------------------------------------------


class FrameRecord(Contract):
    """One sampled frame. The JPEG is inline (``data_b64``) or, when the record would pass the
    Kinesis 1 MiB limit, stored in S3 and referenced by ``s3``."""

    kind: Literal["frame"] = "frame"
    video_id: VideoId
    frame_index: int = Field(ge=0)
    timestamp_ms: float = Field(ge=0)
    total_frames: int | None = Field(default=None, ge=0)
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    encoding: Literal["jpeg"] = "jpeg"
    data_b64: str | None = None
    s3: S3Location | None = None
    correlation_id: str | None = None

    @model_validator(mode="after")
    def _exactly_one_payload(self) -> FrameRecord:
        if (self.data_b64 is None) == (self.s3 is None):
            raise ValueError("a frame record carries exactly one of data_b64 or s3")
        return self


class EndOfVideoRecord(Contract):
    """Sent after a video's last frame, on the same partition key, so it arrives after them."""

    kind: Literal["end"] = "end"
    video_id: VideoId
    frames_sent: int = Field(ge=0)
    last_frame_index: int | None = Field(default=None, ge=0)
    total_frames: int | None = Field(default=None, ge=0)
    source_fps: float | None = Field(default=None, ge=0)
    correlation_id: str | None = None


StreamRecord = Annotated[FrameRecord | EndOfVideoRecord, Field(discriminator="kind")]
STREAM_RECORD = TypeAdapter(StreamRecord)


def parse_stream_record(data: bytes | str) -> FrameRecord | EndOfVideoRecord:
    """Parse one Kinesis record's data (raises ``pydantic.ValidationError`` on garbage)."""
    return STREAM_RECORD.validate_json(data)


# --- Results on VideoProcessingQueue ------------------------------------------------------------


class Box(Contract):
    """Corners in source-frame pixels."""

    x1: float
    y1: float
    x2: float
    y2: float


class Detection(Contract):
    class_id: int = Field(ge=0)
    class_name: str
    confidence: float = Field(ge=0, le=1)
    box: Box


class FrameOutputs(Contract):
    annotated: S3Location
    detections: S3Location


class FrameResult(Contract):
    kind: Literal["video.frame"] = "video.frame"
    video_id: VideoId
    frame_index: int = Field(ge=0)
    timestamp_ms: float = Field(ge=0)
    total_frames: int | None = None
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    outputs: FrameOutputs
    detections: list[Detection]
    model: str
    # Which runtime produced the detections ("onnx-int8/CPUExecutionProvider", ...); optional so
    # messages from services that predate it still validate.
    backend: str | None = None
    timings_ms: dict[str, float] = Field(default_factory=dict)
    processed_at: datetime
    correlation_id: str | None = None


class VideoSummary(Contract):
    kind: Literal["video.summary"] = "video.summary"
    video_id: VideoId
    frames: int = Field(ge=0, description="frames processed (with a result message)")
    frames_failed: int = Field(ge=0)
    frames_sent: int = Field(ge=0)
    total_frames: int | None = None
    class_counts: dict[str, int]
    detections: int = Field(ge=0)
    source_fps: float | None = None
    processing_fps: float | None = Field(default=None, description="frames/s of the service")
    model: str
    completed_at: datetime
    correlation_id: str | None = None


class VideoFailed(Contract):
    kind: Literal["video.failed"] = "video.failed"
    video_id: VideoId
    level: Literal["video", "frame"]
    frame_index: int | None = Field(default=None, ge=0)
    reason: str = Field(min_length=1)
    source: S3Location | None = None
    # For a record too broken to name its frame: the Kinesis position it was read from.
    sequence_number: str | None = None
    failed_at: datetime
    correlation_id: str | None = None

    @model_validator(mode="after")
    def _frame_level_needs_position(self) -> VideoFailed:
        if self.level == "frame" and self.frame_index is None and self.sequence_number is None:
            raise ValueError("a frame-level failure names its frame_index or sequence_number")
        return self


VideoMessage = Annotated[FrameResult | VideoSummary | VideoFailed, Field(discriminator="kind")]
VIDEO_MESSAGE = TypeAdapter(VideoMessage)


def parse_video_message(data: bytes | str) -> FrameResult | VideoSummary | VideoFailed:
    return VIDEO_MESSAGE.validate_json(data)


def fifo_ids(message: FrameResult | VideoSummary | VideoFailed) -> tuple[str, str]:
    """``(MessageGroupId, MessageDeduplicationId)`` of a message on VideoProcessingQueue."""
    if isinstance(message, FrameResult):
        dedup = f"{message.video_id}:{message.frame_index}"
    elif isinstance(message, VideoSummary):
        dedup = f"{message.video_id}:summary"
    elif message.frame_index is not None:
        dedup = f"{message.video_id}:failed:{message.frame_index}"
    elif message.level == "frame":
        # Sequence numbers run to 128 digits; a hash keeps the id under SQS's 128 characters.
        seq = hashlib.sha256((message.sequence_number or "").encode()).hexdigest()[:20]
        dedup = f"{message.video_id}:failed:seq-{seq}"
    else:
        dedup = f"{message.video_id}:failed:video"
    return message.video_id, dedup


def frame_output_keys(video_id: str, frame_index: int) -> tuple[str, str]:
    """Keys of a frame's annotated JPEG and detections JSON in VideoFramesBucket."""
    stem = f"frames/{video_id}/{frame_index:06d}"
    return f"{stem}.jpg", f"{stem}.json"


def oversize_frame_key(video_id: str, frame_index: int) -> str:
    return f"oversize/{video_id}/{frame_index:06d}.jpg"
