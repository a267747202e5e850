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


class RecordAbandonedError(FrameError):
    """A record whose processing failed (or never finished) ``MAX_RECORD_ATTEMPTS`` times: it is
    reported as a frame-level failure and the shard moves past it instead of stalling."""


class LeaseLostError(YoloStreamError):
    """Another worker took this shard's lease; this worker stops reading the shard."""


def failure_reason(exc: BaseException) -> str:
    if isinstance(exc, YoloStreamError):
        return str(exc)
    return f"internal error: {short_error(exc)}"


def short_error(exc: BaseException, limit: int = 160) -> str:
    """The exception's type and the first line of its message, cut to ``limit`` characters: what a
    failure message may say about an unexpected error (never a traceback or a data dump)."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
