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


class PatientAccessRequired(PacsError):
    """Patient-level attributes (or a whole instance, which carries them) were asked for by a
    caller without patient access (header ``x-pacs-patient-access: allowed``)."""

    status_code = 403
    code = "patient_access_required"


class NotFound(PacsError):
    status_code = 404
    code = "not_found"


class ObjectTooLarge(PacsError):
    status_code = 413
    code = "object_too_large"


class NotAcceptable(PacsError):
    status_code = 406
    code = "not_acceptable"


class UnsupportedMediaType(PacsError):
    status_code = 415
    code = "unsupported_media_type"


class InstanceConflict(PacsError):
    """A different object is already stored under the same SOP Instance UID."""

    status_code = 409
    code = "instance_conflict"


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
