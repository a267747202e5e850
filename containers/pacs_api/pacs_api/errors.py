"""Typed errors of the PACS API, each with the HTTP status it maps to (in ``app.py``, once)."""

from __future__ import annotations


class PacsError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidIdentifier(PacsError):
    status_code = 400
    code = "invalid_identifier"


class InvalidQuery(PacsError):
    status_code = 400
    code = "invalid_query"


class NotFound(PacsError):
    status_code = 404
    code = "not_found"


class ObjectTooLarge(PacsError):
    status_code = 413
    code = "object_too_large"


class NotDicom(PacsError):
    """The stored object is not a DICOM file (or its header is cut short)."""

    status_code = 422
    code = "not_dicom"


class UnreadablePixels(PacsError):
    """A DICOM file whose pixel data is missing, truncated or in an unsupported encoding."""

    status_code = 422
    code = "unreadable_pixels"


class StoreUnavailable(PacsError):
    status_code = 503
    code = "store_unavailable"
