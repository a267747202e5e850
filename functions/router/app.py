"""RouterFunction: ``POST /process/{algo_id}`` and ``GET /algorithms`` (the caller comes from the
Cognito authorizer's claims; a request without them is 401, whatever its body says)."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from router_logic import list_algorithms, submit_job
from router_settings import RouterSettings

from pipeline_common.contracts.common import utc_now
from pipeline_common.contracts.jobs import ProcessRequest
from pipeline_common.http import json_response, parse_body, rest_resolver
from pipeline_common.identity import caller_from_event
from pipeline_common.observability import logger, metrics, tracer

settings = RouterSettings()  # type: ignore[call-arg]  # values come from the environment
app = rest_resolver()


@app.post("/process/<algo_id>")
@tracer.capture_method(capture_response=False)
def process(algo_id: str) -> Response:
    caller = caller_from_event(app.current_event.raw_event)
    request = parse_body(app, ProcessRequest, max_bytes=settings.max_body_bytes)
    accepted = submit_job(
        algo_id=algo_id,
        request=request,
        caller=caller,
        correlation_id=app.current_event.request_context.request_id,
        now=utc_now(),
        settings=settings,
    )
    return json_response(accepted, HTTPStatus.ACCEPTED)


@app.get("/algorithms")
def algorithms() -> Response:
    caller_from_event(app.current_event.raw_event)  # only signed-in users see the registry
    return json_response(list_algorithms(settings=settings))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
