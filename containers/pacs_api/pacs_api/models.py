"""JSON shapes of the PACS API's project answers (errors, health, presigned links); DICOMweb
answers are DICOM JSON (``dicomjson.py``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PresignedUrl(_Response):
    url: str
    expires_in: int


class ErrorBody(_Response):
    error: str
    message: str


class Health(_Response):
    status: str
