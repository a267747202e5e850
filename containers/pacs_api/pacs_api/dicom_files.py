"""Parsing stored objects as DICOM and picking the tags a viewer needs.

Only a whitelist of technical tags ever leaves this module: no patient-identifying element
(PatientName, PatientID, PatientBirthDate, ...) is copied into a response or a log record.
"""

from __future__ import annotations

from typing import Any

from pydicom.dataset import FileDataset

from pacs_api.errors import NotDicom
from pipeline_common import dicom


def parse_dicom(data: bytes, instance_id: str) -> FileDataset:
    return dicom.parse_dicom(data, instance_id, NotDicom)


def first_number(value: Any) -> float | None:
    found = dicom.numbers(value)
    return found[0] if found else None


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _integer(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def select_metadata(ds: FileDataset) -> dict[str, Any]:
    """The whitelisted tags of ``ds`` as plain JSON-ready values."""
    meta = getattr(ds, "file_meta", None)
    return {
        "sop_class_uid": _text(ds.get("SOPClassUID")),
        "transfer_syntax_uid": _text(meta.get("TransferSyntaxUID")) if meta else None,
        "modality": _text(ds.get("Modality")),
        "study_description": _text(ds.get("StudyDescription")),
        "series_description": _text(ds.get("SeriesDescription")),
        "series_number": _integer(ds.get("SeriesNumber")),
        "instance_number": _integer(ds.get("InstanceNumber")),
        "body_part_examined": _text(ds.get("BodyPartExamined")),
        "rows": _integer(ds.get("Rows")),
        "columns": _integer(ds.get("Columns")),
        "number_of_frames": _integer(ds.get("NumberOfFrames")) or 1,
        "samples_per_pixel": _integer(ds.get("SamplesPerPixel")),
        "photometric_interpretation": _text(ds.get("PhotometricInterpretation")),
        "bits_allocated": _integer(ds.get("BitsAllocated")),
        "bits_stored": _integer(ds.get("BitsStored")),
        "pixel_representation": _integer(ds.get("PixelRepresentation")),
        "window_center": dicom.numbers(ds.get("WindowCenter")),
        "window_width": dicom.numbers(ds.get("WindowWidth")),
        "rescale_slope": first_number(ds.get("RescaleSlope")),
        "rescale_intercept": first_number(ds.get("RescaleIntercept")),
        "pixel_spacing_mm": dicom.numbers(ds.get("PixelSpacing")),
        "slice_thickness_mm": first_number(ds.get("SliceThickness")),
        "has_pixel_data": "PixelData" in ds,
    }
