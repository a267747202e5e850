"""Contracts of the job API (README, "The pipelines"): requests, the job message on an
algorithm's FIFO request queue, and the result published to ``ResultsTopic`` /
``ResultsQueue.fifo``."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field, field_validator, model_validator

from pipeline_common.contracts.common import Contract, S3Location

# DICOM UIDs are digits and dots (<= 64 chars); PACS ids may also be plain names. Anything that
# could walk a path (``..``, ``/``, ``\``, ``%``) is refused here, before it reaches S3 or a file.
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)
JOB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{7,63}$"
ALGO_ID_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"


def validate_identifier(value: str) -> str:
    if not _IDENTIFIER.fullmatch(value) or ".." in value:
        raise ValueError("must be 1-64 characters of letters, digits, '.', '_' or '-' (no '..')")
    return value


class JobStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"

    @property
    def is_final(self) -> bool:
        return self in (JobStatus.DONE, JobStatus.FAILED)


class PacsRef(Contract):
    """Which DICOM data a job runs on: one instance (``image``) or a whole series."""

    study_id: str
    series_id: str
    image_id: str | None = None
    scope: Literal["image", "series"] = "image"

    _check_ids = field_validator("study_id", "series_id", "image_id")(
        lambda cls, v: v if v is None else validate_identifier(v)
    )

    @model_validator(mode="after")
    def _image_scope_needs_image(self) -> PacsRef:
        if self.scope == "image" and self.image_id is None:
            raise ValueError("image_id is required when scope is 'image'")
        return self


class ProcessRequest(Contract):
    """Body of ``POST /process/{algo_id}``."""

    client_id: str = Field(pattern=JOB_ID_PATTERN)
    pacs: PacsRef
    job_id: str | None = Field(default=None, pattern=JOB_ID_PATTERN)


class JobMessage(Contract):
    """What the router puts on an algorithm's request queue."""

    job_id: str = Field(pattern=JOB_ID_PATTERN)
    client_id: str = Field(pattern=JOB_ID_PATTERN)
    algo_id: str = Field(pattern=ALGO_ID_PATTERN)
    pacs: PacsRef
    submitted_at: datetime
    correlation_id: str | None = None


class DicomInstanceRef(Contract):
    """A DICOM instance a job stored back in the PACS (its Segmentation): where DICOMweb finds
    it, ``{PACS}/studies/{study_id}/series/{series_id}/instances/{instance_id}``."""

    study_id: str
    series_id: str
    instance_id: str
    sop_class_uid: str

    _check_ids = field_validator("study_id", "series_id", "instance_id")(
        lambda cls, v: validate_identifier(v)
    )


class JobOutputs(Contract):
    overlay: S3Location
    result: S3Location
    # The mask as a DICOM Segmentation in the source study (a new series); None when the source
    # cannot carry one (the reason is in the measurements, ``seg_skipped``).
    seg: DicomInstanceRef | None = None
    # The overlay (source and mask) as a DICOM Secondary Capture in the source study; None when
    # the source cannot carry one (``overlay_sc_skipped`` in the measurements says why).
    overlay_sc: DicomInstanceRef | None = None


class JobResult(Contract):
    """What a worker publishes when a job ends (DONE or FAILED) and what clients receive."""

    kind: Literal["job.result"] = "job.result"
    job_id: str = Field(pattern=JOB_ID_PATTERN)
    client_id: str = Field(pattern=JOB_ID_PATTERN)
    algo_id: str = Field(pattern=ALGO_ID_PATTERN)
    status: Literal[JobStatus.DONE, JobStatus.FAILED]
    reason: str | None = None
    pacs: PacsRef
    outputs: JobOutputs | None = None
    measurements: dict[str, float | int | str] = Field(default_factory=dict)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    submitted_at: datetime | None = None
    completed_at: datetime

    @model_validator(mode="after")
    def _failed_needs_reason(self) -> JobResult:
        if self.status == JobStatus.FAILED and not self.reason:
            raise ValueError("a FAILED result must say why (reason)")
        if self.status == JobStatus.DONE and self.outputs is None:
            raise ValueError("a DONE result must name its outputs")
        return self
