"""JSON shapes of the PACS API's project answers (health, presigned links); errors are the
project's one error body (``pipeline_common.contracts.errors``), DICOMweb answers DICOM JSON
(``dicomjson.py``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PresignedUrl(_Response):
    url: str
    expires_in: int


class Health(_Response):
    status: str
