"""ProvisionerFunction: ``POST /clients`` (a client id, a WebSocket token, a queue if polling)."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from provisioner_logic import provision_client
from provisioner_settings import ProvisionerSettings

from pipeline_common.contracts.clients import CreateClientRequest
from pipeline_common.contracts.common import utc_now
from pipeline_common.http import json_response, parse_body, rest_resolver
from pipeline_common.observability import logger, metrics, tracer

settings = ProvisionerSettings()  # type: ignore[call-arg]  # values come from the environment
app = rest_resolver()


@app.post("/clients")
def create_client() -> Response:
    request = parse_body(app, CreateClientRequest, max_bytes=settings.max_body_bytes)
    created = provision_client(delivery=request.delivery, now=utc_now(), settings=settings)
    return json_response(created, HTTPStatus.CREATED)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
