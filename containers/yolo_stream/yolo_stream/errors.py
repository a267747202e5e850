"""Typed errors of the YOLO stream service. Each one names what failed and why, in words a
user can act on; ``failure_reason`` is the one place that turns them into a failure message."""

from __future__ import annotations


class YoloStreamError(Exception):
    """Base of the service's domain errors."""


class ModelLoadError(YoloStreamError):
    """The model is missing, unreadable or not a YOLO detector: raised at start, never per frame."""


class FrameError(YoloStreamError):
    """One frame cannot be processed; it becomes a frame-level ``video.failed`` message."""


class BadRecordError(FrameError):
    """The Kinesis record is not a valid frame or end-of-video record."""


class FrameMissingError(FrameError):
    """The record references an S3 object that does not exist (any more)."""


class FrameDecodeError(FrameError):
    """The frame's bytes are not a decodable image."""


class LeaseLostError(YoloStreamError):
    """Another worker took this shard's lease; this worker stops reading the shard."""


def failure_reason(exc: BaseException) -> str:
    if isinstance(exc, YoloStreamError):
        return str(exc)
    return f"internal error: {type(exc).__name__}: {exc}"
