"""UploadUrlFunction: ``POST /uploads`` (a presigned S3 POST into an image or video bucket)."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from upload_url_logic import UploadRequest, create_upload
from upload_url_settings import UploadUrlSettings

from pipeline_common.http import json_response, parse_body, rest_resolver
from pipeline_common.identity import caller_from_event
from pipeline_common.observability import logger, metrics, tracer

settings = UploadUrlSettings()  # type: ignore[call-arg]  # values come from the environment
app = rest_resolver()


@app.post("/uploads")
def create() -> Response:
    caller = caller_from_event(app.current_event.raw_event)
    request = parse_body(app, UploadRequest, max_bytes=settings.max_body_bytes)
    ticket = create_upload(request=request, owner_id=caller.owner_id, settings=settings)
    return json_response(ticket, HTTPStatus.CREATED)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
