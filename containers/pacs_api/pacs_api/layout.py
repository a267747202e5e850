"""Object keys of the PACS layout; the one place that knows how ids map to S3 keys.

Each instance is two objects side by side:
``studies/<StudyInstanceUID>/series/<SeriesInstanceUID>/instances/<SOPInstanceUID>.dcm`` (the
PS3.10 file, byte for byte as stored) and ``....json`` (its index summary: the attributes QIDO-RS
matches and returns, written at store time, rebuilt from the ``.dcm`` when missing).
"""

from __future__ import annotations

STUDIES_PREFIX = "studies/"
INSTANCE_SUFFIX = ".dcm"
SUMMARY_SUFFIX = ".json"


def study_prefix(study_id: str) -> str:
    return f"{STUDIES_PREFIX}{study_id}/"


def series_prefix(study_id: str, series_id: str) -> str:
    return f"{study_prefix(study_id)}series/{series_id}/"


def instances_prefix(study_id: str, series_id: str) -> str:
    return f"{series_prefix(study_id, series_id)}instances/"


def instance_key(study_id: str, series_id: str, instance_id: str) -> str:
    return f"{instances_prefix(study_id, series_id)}{instance_id}{INSTANCE_SUFFIX}"


def summary_key(study_id: str, series_id: str, instance_id: str) -> str:
    return f"{instances_prefix(study_id, series_id)}{instance_id}{SUMMARY_SUFFIX}"


def parse_key(key: str) -> tuple[str, str, str, str] | None:
    """``(study, series, instance, suffix)`` of an instance or summary key; None for any other."""
    parts = key.split("/")
    if len(parts) != 6 or f"{parts[0]}/" != STUDIES_PREFIX:
        return None
    if parts[2] != "series" or parts[4] != "instances":
        return None
    name = parts[5]
    for suffix in (INSTANCE_SUFFIX, SUMMARY_SUFFIX):
        if name.endswith(suffix) and len(name) > len(suffix):
            return parts[1], parts[3], name[: -len(suffix)], suffix
    return None
