"""Contracts of the image pipeline (README, "The pipelines").

- ``ImageProcessingInput``: what ``ImageDispatcherFunction`` starts
  ``ImageProcessingStateMachine`` with (one object version).
- ``ImageBatchInput``: what the dispatcher starts the state machine with in batched mode (the
  objects of one batch; the task reads the same list from the ``ImageBatchManifest`` in S3).
- ``ImageProcessingResult``: the one message per object on ``ImageProcessingQueue``, sent by the
  grayscale container (SUCCEEDED, or FAILED with the input rejected), by the dispatcher (FAILED at
  ``dispatch``: wrong extension, empty, too large) or by the state machine's Catch (FAILED at
  ``task``: the container crashed or could not start).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field, model_validator

from pipeline_common.contracts.common import Contract, S3Location, utc_now

# Lower case, with the dot; the dispatcher compares the key's suffix case-insensitively.
SUPPORTED_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png")

ImageStage = Literal[
    "dispatch", "download", "decode", "convert", "encode", "upload", "task", "completed"
]
ImageFormat = Literal["JPEG", "PNG"]


class ImageStatus(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class ImageProcessingInput(Contract):
    """Input of one ``ImageProcessingStateMachine`` execution (the key is already URL-decoded)."""

    bucket: str = Field(min_length=3, max_length=63)
    key: str = Field(min_length=1, max_length=1024)
    version_id: str | None = None
    etag: str | None = None
    size: int = Field(ge=0)
    correlation_id: str = Field(min_length=1, max_length=128)

    @property
    def location(self) -> S3Location:
        return S3Location(bucket=self.bucket, key=self.key, version_id=self.version_id)


# Bounded by the execution input (256 KiB): 100 objects with 1,024-byte keys is about 140 KiB.
MAX_BATCH_OBJECTS = 100


class ImageBatchManifest(Contract):
    """The objects of one batch, written by the dispatcher to S3 for the task to read (an ECS
    ``RunTask`` override holds 8 KiB in all, far too little for a list of keys)."""

    batch_id: str = Field(min_length=1, max_length=80)
    objects: list[ImageProcessingInput] = Field(min_length=1, max_length=MAX_BATCH_OBJECTS)


class ImageBatchInput(Contract):
    """Input of one batched ``ImageProcessingStateMachine`` execution. ``objects`` is repeated
    here so the state machine can report every object that a failed batch left unreported."""

    batch_id: str = Field(min_length=1, max_length=80)
    correlation_id: str = Field(min_length=1, max_length=128)
    manifest: S3Location
    objects: list[ImageProcessingInput] = Field(min_length=1, max_length=MAX_BATCH_OBJECTS)
    count: int = Field(ge=1, le=MAX_BATCH_OBJECTS)
    # The whole task's limit (the state machine's TimeoutSecondsPath).
    batch_timeout_seconds: int = Field(ge=1, le=86_400)
    # Epoch seconds after which a claim row may be swept (DynamoDB TTL).
    claim_expires_at: int = Field(ge=0)


class ImageProcessingResult(Contract):
    """The metrics/failure message on ``ImageProcessingQueue``: exactly one per object version.

    ``stage`` is ``completed`` on success, otherwise the stage that refused the input or failed.
    ``timings_ms`` holds the stages that ran (download, decode, convert, encode, upload, total).
    """

    kind: Literal["image.processed"] = "image.processed"
    status: ImageStatus
    stage: ImageStage
    reason: str | None = None
    correlation_id: str | None = None
    input: S3Location
    output: S3Location | None = None
    format: ImageFormat | None = None
    width: int | None = Field(default=None, ge=0)
    height: int | None = Field(default=None, ge=0)
    mode: str | None = None
    output_mode: str | None = None
    input_bytes: int | None = Field(default=None, ge=0)
    output_bytes: int | None = Field(default=None, ge=0)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    threads: int | None = Field(default=None, ge=1)
    completed_at: datetime = Field(default_factory=utc_now)

    @model_validator(mode="after")
    def _status_is_consistent(self) -> ImageProcessingResult:
        if self.status == ImageStatus.FAILED:
            if not self.reason:
                raise ValueError("a FAILED result must say why (reason)")
            if self.stage == "completed":
                raise ValueError("a FAILED result must name the stage that failed")
        elif self.stage != "completed" or self.output is None:
            raise ValueError("a SUCCEEDED result has stage 'completed' and names its output")
        return self
