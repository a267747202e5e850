"""Object keys of the PACS layout; the one place that knows how ids map to S3 keys."""

from __future__ import annotations

STUDIES_PREFIX = "studies/"
INSTANCE_SUFFIX = ".dcm"


def study_prefix(study_id: str) -> str:
    return f"{STUDIES_PREFIX}{study_id}/"


def series_prefix(study_id: str, series_id: str) -> str:
    return f"{study_prefix(study_id)}series/{series_id}/"


def instances_prefix(study_id: str, series_id: str) -> str:
    return f"{series_prefix(study_id, series_id)}instances/"


def instance_key(study_id: str, series_id: str, instance_id: str) -> str:
    return f"{instances_prefix(study_id, series_id)}{instance_id}{INSTANCE_SUFFIX}"
