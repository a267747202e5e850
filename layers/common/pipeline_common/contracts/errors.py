"""The error body of every HTTP API of the project (the job REST API, the PACS API, the YOLO
service's status server): ``{"error": {"code", "message", "field"?}}``, so a client parses one
shape whichever API refused it."""

from __future__ import annotations

from pipeline_common.contracts.common import Contract


class ApiErrorDetail(Contract):
    # A stable snake_case word to branch on (``not_found``, ``invalid_request``...).
    code: str
    # For a person: what was wrong, in the API's words.
    message: str
    # The request field at fault, dotted (``pacs.study_id``), when there is one.
    field: str | None = None


class ApiErrorBody(Contract):
    error: ApiErrorDetail
