"""Typed errors of the PACS API, each with the HTTP status and code it is answered with (the one
mapping in ``app.py`` renders them as every API of the project does: ``api_errors``)."""

from __future__ import annotations

from http import HTTPStatus

from pipeline_common.api_errors import ApiError


class PacsError(ApiError, status=HTTPStatus.INTERNAL_SERVER_ERROR, code="internal_error"):
    """Any refusal of the PACS API (the base its handler catches)."""


class InvalidIdentifier(PacsError, status=HTTPStatus.BAD_REQUEST, code="invalid_identifier"):
    """An id outside the pattern, or a path with dot segments or encoded separators."""


class InvalidQuery(PacsError, status=HTTPStatus.BAD_REQUEST, code="invalid_query"):
    """An unknown attribute key, a bad limit/offset/window/frame, a malformed multipart body."""


class PatientAccessRequired(PacsError, status=HTTPStatus.FORBIDDEN, code="patient_access_required"):
    """Patient-level attributes (or a whole instance, which carries them) were asked for by a
    caller without patient access (header ``x-pacs-patient-access: allowed``)."""


class NotFound(PacsError, status=HTTPStatus.NOT_FOUND, code="not_found"):
    """No such study, series, instance, frame source or path."""


class ObjectTooLarge(
    PacsError, status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE, code="object_too_large"
):
    """An object or STOW body above its configured limit."""


class NotAcceptable(PacsError, status=HTTPStatus.NOT_ACCEPTABLE, code="not_acceptable"):
    """An Accept (or transfer syntax) this API cannot serve."""


class UnsupportedMediaType(
    PacsError, status=HTTPStatus.UNSUPPORTED_MEDIA_TYPE, code="unsupported_media_type"
):
    """A STOW body that is not ``multipart/related; type="application/dicom"``."""


class InstanceConflict(PacsError, status=HTTPStatus.CONFLICT, code="instance_conflict"):
    """A different object is already stored under the same SOP Instance UID."""


class NotDicom(PacsError, status=HTTPStatus.UNPROCESSABLE_ENTITY, code="not_dicom"):
    """The stored object is not a DICOM file (or its header is cut short)."""


class UnreadablePixels(PacsError, status=HTTPStatus.UNPROCESSABLE_ENTITY, code="unreadable_pixels"):
    """A DICOM file whose pixel data is missing, truncated or in an unsupported encoding."""


class StoreUnavailable(PacsError, status=HTTPStatus.SERVICE_UNAVAILABLE, code="store_unavailable"):
    """S3 unreachable, or the bucket missing."""
