"""JobStatusFunction: ``GET /jobs/{job_id}`` (status, timings and the result with fresh links)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from job_status_logic import describe_job
from job_status_settings import JobStatusSettings

from pipeline_common.contracts.common import utc_now
from pipeline_common.http import json_response, rest_resolver
from pipeline_common.identity import caller_from_event
from pipeline_common.observability import logger, metrics, tracer

settings = JobStatusSettings()  # type: ignore[call-arg]  # values come from the environment
app = rest_resolver()


@app.get("/jobs/<job_id>")
def get_job(job_id: str) -> Response:
    caller = caller_from_event(app.current_event.raw_event)
    return json_response(
        describe_job(job_id=job_id, caller=caller, now=utc_now(), settings=settings)
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
