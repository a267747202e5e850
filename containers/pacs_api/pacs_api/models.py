"""JSON shapes of the PACS API responses (documented in the container README)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StudySummary(_Response):
    study_id: str


class StudyList(_Response):
    studies: list[StudySummary]
    count: int


class SeriesSummary(_Response):
    series_id: str


class SeriesList(_Response):
    study_id: str
    series: list[SeriesSummary]
    count: int


class InstanceSummary(_Response):
    instance_id: str
    size_bytes: int
    last_modified: datetime


class InstanceList(_Response):
    study_id: str
    series_id: str
    instances: list[InstanceSummary]
    count: int


class InstanceMetadata(_Response):
    study_id: str
    series_id: str
    instance_id: str
    size_bytes: int
    sop_class_uid: str | None
    transfer_syntax_uid: str | None
    modality: str | None
    study_description: str | None
    series_description: str | None
    series_number: int | None
    instance_number: int | None
    body_part_examined: str | None
    rows: int | None
    columns: int | None
    number_of_frames: int
    samples_per_pixel: int | None
    photometric_interpretation: str | None
    bits_allocated: int | None
    bits_stored: int | None
    pixel_representation: int | None
    window_center: list[float]
    window_width: list[float]
    rescale_slope: float | None
    rescale_intercept: float | None
    pixel_spacing_mm: list[float]
    slice_thickness_mm: float | None
    has_pixel_data: bool


class PresignedUrl(_Response):
    url: str
    expires_in: int


class ErrorBody(_Response):
    error: str
    message: str


class Health(_Response):
    status: str
