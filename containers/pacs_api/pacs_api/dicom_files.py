"""Parsing stored objects as DICOM."""

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
