"""VideoDispatcherFunction: S3 ObjectCreated on VideoInputBucket -> VideoIngestStateMachine."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from video_dispatch import DispatcherSettings, VideoDispatcher, s3_records

from pipeline_common import aws
from pipeline_common.observability import logger, metrics, tracer

settings = DispatcherSettings()  # type: ignore[call-arg]  # a bad environment fails at init


class DispatchFailed(Exception):
    """Some records could not be dispatched; raising makes Lambda retry the event (async)."""


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    dispatcher = VideoDispatcher(settings, sfn=aws.client("stepfunctions"), sqs=aws.client("sqs"))
    outcomes, failed = [], []
    for record in s3_records(event):
        try:
            outcome = dispatcher.dispatch(record, correlation_id=context.aws_request_id)
        except Exception:
            key = record.get("s3", {}).get("object", {}).get("key", "?")
            logger.exception("dispatch failed", extra={"key": key})
            failed.append(key)
            continue
        logger.info(
            "dispatched",
            extra={
                "key": outcome.key,
                "status": outcome.status,
                "video_id": outcome.video_id,
                "detail": outcome.detail,
            },
        )
        metrics.add_metric(
            name=f"Videos{outcome.status.capitalize()}", unit=MetricUnit.Count, value=1
        )
        outcomes.append(outcome.__dict__)
    if failed:
        # Retried as a whole: started executions are then found by name, rejections deduplicated.
        raise DispatchFailed(f"could not dispatch {len(failed)} record(s): {', '.join(failed)}")
    return {"dispatched": outcomes}
