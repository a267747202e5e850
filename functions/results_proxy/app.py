"""ResultsProxyFunction: ``GET /results?client_id=&after=&limit=&wait_seconds=``: a poll
client's finished jobs after its cursor (JobsTable's ``client-results-index``; no queue)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from results_proxy_logic import PollParameters, poll_results
from results_proxy_settings import ResultsProxySettings

from pipeline_common.contracts.common import utc_now
from pipeline_common.http import json_response, rest_resolver
from pipeline_common.identity import caller_from_event
from pipeline_common.observability import logger, metrics, tracer

settings = ResultsProxySettings()  # type: ignore[call-arg]  # values come from the environment
app = rest_resolver()


@app.get("/results")
def get_results() -> Response:
    caller = caller_from_event(app.current_event.raw_event)
    query = app.current_event.query_string_parameters or {}
    parameters = PollParameters.from_query(query, max_wait_seconds=settings.wait_time_seconds)
    return json_response(
        poll_results(parameters=parameters, caller=caller, now=utc_now(), settings=settings)
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
