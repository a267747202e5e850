"""ImageStatusFunction: ``GET /images/{key+}`` (pending, done or failed, with links and timings)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from image_status_logic import describe_image
from image_status_settings import ImageStatusSettings

from pipeline_common.http import json_response, rest_resolver
from pipeline_common.identity import caller_from_event
from pipeline_common.observability import logger, metrics, tracer

settings = ImageStatusSettings()  # type: ignore[call-arg]  # values come from the environment
app = rest_resolver()


# A greedy route: the key keeps its slashes. API Gateway hands it over already decoded.
@app.get("/images/.+")
def get_image() -> Response:
    caller = caller_from_event(app.current_event.raw_event)
    key = (app.current_event.path_parameters or {}).get("key", "")
    return json_response(describe_image(key=key, caller=caller, settings=settings))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
