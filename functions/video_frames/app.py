"""VideoFramesFunction: ``GET /videos`` (known videos, or ``?key=`` an upload's video id) and
``GET /videos/{video_id}/frames?after=N`` (annotated frames and detections, then the summary)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from video_frames_logic import list_frames, list_videos, parse_after
from video_frames_settings import VideoFramesSettings

from pipeline_common.http import json_response, rest_resolver
from pipeline_common.identity import caller_from_event
from pipeline_common.observability import logger, metrics, tracer

settings = VideoFramesSettings()  # type: ignore[call-arg]  # values come from the environment
app = rest_resolver()


@app.get("/videos")
def videos() -> Response:
    caller = caller_from_event(app.current_event.raw_event)
    key = app.current_event.get_query_string_value("key")
    return json_response(list_videos(key=key, caller=caller, settings=settings))


@app.get("/videos/<video_id>/frames")
def frames(video_id: str) -> Response:
    caller = caller_from_event(app.current_event.raw_event)
    after = parse_after(app.current_event.get_query_string_value("after"))
    return json_response(
        list_frames(video_id=video_id, after=after, caller=caller, settings=settings)
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
