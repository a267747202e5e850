"""Errors a client causes or must know about, for every HTTP API of the project, and the one body
they are answered with (``contracts.errors.ApiErrorBody``).

Framework-free on purpose: the REST API's functions (Powertools, ``http.py``), the PACS API
(FastAPI) and the YOLO service (the standard library's server) raise and render the same errors;
each only wraps ``error_body`` (or ``error_json``) in its own response type.

A subclass names its status and code in its header, e.g.
``class NotFound(ApiError, status=HTTPStatus.NOT_FOUND, code="not_found")``.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from pipeline_common.contracts.errors import ApiErrorBody, ApiErrorDetail


class ApiError(Exception):
    """An error with an HTTP ``status`` and a ``code``, both per class; ``code`` may be narrowed
    per raise (``unknown_job`` rather than ``not_found``) and ``field`` names the input at fault."""

    status: HTTPStatus = HTTPStatus.BAD_REQUEST
    code: str = "bad_request"

    def __init_subclass__(
        cls, *, status: HTTPStatus | None = None, code: str | None = None, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status
        if code is not None:
            cls.code = code

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.field)


def error_model(code: str, message: str, field: str | None = None) -> ApiErrorBody:
    return ApiErrorBody(error=ApiErrorDetail(code=code, message=message, field=field))


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The body as JSON-ready data (absent ``field`` left out, as in every answer)."""
    return error_model(code, message, field).model_dump(exclude_none=True)


def error_json(code: str, message: str, field: str | None = None) -> str:
    return error_model(code, message, field).model_dump_json(exclude_none=True)


def route_error(status: HTTPStatus, message: str | None = None) -> dict[str, Any]:
    """What a server answers for a request none of its routes takes (unknown path or method,
    malformed request line): code ``no_such_route`` for a 404, as the REST API's resolver
    answers, else the status's phrase (``method_not_allowed``)."""
    phrase = status.phrase.lower()
    code = "no_such_route" if status == HTTPStatus.NOT_FOUND else phrase.replace(" ", "_")
    return error_body(code, message or ("no such route" if code == "no_such_route" else phrase))
