"""ImageDispatcherFunction: S3 ``ObjectCreated:*`` on ImageInputBucket -> one
ImageProcessingStateMachine execution per object version (logic in ``dispatcher``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from dispatcher import dispatch_event
from dispatcher_settings import DispatcherSettings

from pipeline_common.observability import logger, metrics, tracer

settings = DispatcherSettings()  # type: ignore[call-arg]  # values come from the environment


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(raise_on_empty_metrics=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dispatch_event(event, settings=settings).as_dict()
