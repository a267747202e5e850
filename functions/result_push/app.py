"""ResultPushFunction: results from ``ResultsQueue.fifo`` to their client's live WebSockets."""

from __future__ import annotations

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from result_push_logic import push_result
from result_push_settings import ResultPushSettings

from pipeline_common.contracts.common import utc_now
from pipeline_common.observability import logger, metrics, tracer

settings = ResultPushSettings()  # type: ignore[call-arg]  # values come from the environment
# A failed record fails only the records after it in the same message group (one client's order).
processor = SqsFifoPartialProcessor(skip_group_on_error=True)


def handle_record(record: SQSRecord) -> None:
    sent = record.attributes.sent_timestamp
    push_result(
        body=record.body,
        now=utc_now(),
        settings=settings,
        queued_at_ms=int(sent) if sent else None,
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
