"""VideoDispatcherFunction: S3 ObjectCreated on VideoInputBucket (S3 invokes it directly) ->
VideoIngestStateMachine (logic in ``video_dispatch``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from video_dispatch import dispatch
from video_dispatcher_settings import DispatcherSettings

from pipeline_common import s3_dispatch
from pipeline_common.observability import logger, metrics, tracer
from pipeline_common.s3_dispatch import DispatchFailed, Failures, Notification

settings = DispatcherSettings()  # type: ignore[call-arg]  # a bad environment fails at init
# Raised, once every record was tried, when some could not be dispatched: Lambda retries the
# event (then its OnFailure destination, VideoDispatchFailureQueue, keeps it).
__all__ = ["DispatchFailed", "DispatcherSettings", "lambda_handler"]


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcomes: list[dict[str, Any]] = []
    failures = Failures()

    def dispatch_record(_: Notification, record: S3EventRecord) -> None:
        outcome = dispatch(record, settings)
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

    s3_dispatch.for_each_record([s3_dispatch.direct_notification(event)], dispatch_record, failures)
    # Retried as a whole: started executions are then found by name, rejections deduplicated.
    failures.settle(total=len(outcomes) + len(failures.labels))
    return {"dispatched": outcomes}
