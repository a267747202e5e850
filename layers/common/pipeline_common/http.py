"""What the client-facing functions share: the REST API's one error mapping, body parsing with
size and field errors, CORS, and the presigned links every delivered result carries.

Every error a client can cause is an ``ApiError`` subclass (``api_errors``, shared with the
PACS API) raised by the logic modules; this is the only place in the functions that turns errors
into status codes and ``{"error": {code, message, field?}}`` bodies. Anything unexpected becomes
a 500 with a request id to quote, and is logged in full.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import (
    APIGatewayRestResolver,
    CORSConfig,
    Response,
    content_types,
)
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from pydantic import BaseModel, ValidationError

from pipeline_common.api_errors import ApiError, error_json
from pipeline_common.contracts.clients import DeliveredResult
from pipeline_common.contracts.common import S3Location
from pipeline_common.contracts.jobs import JobResult
from pipeline_common.observability import logger
from pipeline_common.s3_objects import presigned_get

ModelT = TypeVar("ModelT", bound=BaseModel)


class InvalidRequest(ApiError, status=HTTPStatus.BAD_REQUEST, code="invalid_request"):
    pass


class NotFound(ApiError, status=HTTPStatus.NOT_FOUND, code="not_found"):
    pass


class Conflict(ApiError, status=HTTPStatus.CONFLICT, code="conflict"):
    pass


class PayloadTooLarge(
    ApiError, status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE, code="payload_too_large"
):
    pass


class Unauthorized(ApiError, status=HTTPStatus.UNAUTHORIZED, code="unauthorized"):
    """No verified user on the request (API Gateway's authorizer normally answers this first)."""


class TooManyRequests(ApiError, status=HTTPStatus.TOO_MANY_REQUESTS, code="too_many_requests"):
    """A per-user cap or rate was reached; nothing was created. The message says which."""


class ServiceUnavailable(
    ApiError, status=HTTPStatus.SERVICE_UNAVAILABLE, code="service_unavailable"
):
    """A dependency failed; the request changed nothing and may be retried as is."""


def error_response(
    status: HTTPStatus, code: str, message: str, field: str | None = None
) -> Response:
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body=error_json(code, message, field),
    )


def json_response(model: BaseModel, status: HTTPStatus = HTTPStatus.OK) -> Response:
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body=model.model_dump_json(exclude_none=True),
    )


def field_of(error: ValidationError) -> str | None:
    """The dotted path of the first field at fault (``pacs.study_id``), if there is one."""
    for detail in error.errors():
        path = ".".join(str(part) for part in detail.get("loc", ()))
        if path:
            return path
    return None


def describe(error: ValidationError) -> str:
    first = error.errors()[0]
    where = field_of(error)
    return f"{where}: {first['msg']}" if where else str(first["msg"])


def cors_config() -> CORSConfig:
    """CORS for the web console: only its origin (``CORS_ALLOW_ORIGIN``, the template's
    ``ConsoleOrigin``), never ``*``; without the setting no cross-origin caller is allowed."""
    return CORSConfig(
        allow_origin=os.environ.get("CORS_ALLOW_ORIGIN", "https://console.invalid"),
        allow_headers=["Content-Type", "Authorization"],
        max_age=600,
    )


def rest_resolver() -> APIGatewayRestResolver:
    """An ``APIGatewayRestResolver`` with CORS and the error mapping installed."""
    app = APIGatewayRestResolver(cors=cors_config())
    install_error_mapping(app)
    return app


def install_error_mapping(app: APIGatewayRestResolver) -> None:
    @app.exception_handler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        logger.info("request refused", extra={"code": exc.code, "field": exc.field})
        return error_response(exc.status, exc.code, exc.message, exc.field)

    @app.exception_handler(ValidationError)
    def _validation_error(exc: ValidationError) -> Response:
        return error_response(
            HTTPStatus.BAD_REQUEST, "invalid_request", describe(exc), field_of(exc)
        )

    @app.exception_handler(NotFoundError)
    def _no_route(_exc: NotFoundError) -> Response:
        return error_response(HTTPStatus.NOT_FOUND, "no_such_route", "no such route")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unexpected error")
        request_id = app.current_event.request_context.request_id
        return error_response(
            HTTPStatus.INTERNAL_SERVER_ERROR,
            "internal_error",
            f"internal error; quote request id {request_id}",
        )


def parse_body(app: APIGatewayRestResolver, model: type[ModelT], *, max_bytes: int) -> ModelT:
    """The request body as ``model``: 413 above ``max_bytes``, 400 if malformed or invalid.

    An absent or empty body is parsed as ``{}``, so models with defaults accept it.
    """
    raw = app.current_event.decoded_body or ""
    size = len(raw.encode("utf-8"))
    if size > max_bytes:
        raise PayloadTooLarge(f"body is {size} bytes; the limit is {max_bytes}")
    try:
        data: Any = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise InvalidRequest(f"body is not valid JSON: {exc}", code="malformed_json") from exc
    if not isinstance(data, dict):
        raise InvalidRequest("body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(describe(exc), field=field_of(exc)) from exc


def _presign(location: S3Location, expiry_seconds: int) -> str:
    return presigned_get(
        location.bucket, location.key, expires_in=expiry_seconds, version_id=location.version_id
    )


def deliverable(
    result: JobResult,
    *,
    output_bucket: str | None,
    expiry_seconds: int,
    now: datetime,
) -> DeliveredResult:
    """``result`` with presigned links to its outputs, signed now, so a
    client never needs read access to the output bucket.

    Only objects in ``output_bucket`` are signed: a result naming any other bucket would
    otherwise turn this function's read permission into a way to fetch arbitrary objects.
    """
    fields = result.model_dump()
    outputs = result.outputs
    if outputs is None or output_bucket is None or expiry_seconds <= 0:
        return DeliveredResult.model_validate(fields)
    if outputs.overlay.bucket != output_bucket or outputs.result.bucket != output_bucket:
        logger.warning(
            "result names outputs outside the output bucket; not signing",
            extra={"job_id": result.job_id},
        )
        return DeliveredResult.model_validate(fields)
    return DeliveredResult.model_validate(
        {
            **fields,
            "overlay_url": _presign(outputs.overlay, expiry_seconds),
            "result_url": _presign(outputs.result, expiry_seconds),
            "urls_expire_at": now + timedelta(seconds=expiry_seconds),
        }
    )
