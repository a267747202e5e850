"""ClientReaperFunction: ClientsTable's stream (REMOVE records only, by the event source's
filter) -> the removed client's live connections closed, and a legacy poll client's
subscription and queue removed (poll clients provisioned since have neither).

Records are independent (one client each), so a failed one is reported alone
(``ReportBatchItemFailures``); the event source retries it, bisecting the batch, and finally
sends it to ClientReaperFailureQueue.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from client_reaper_logic import reap
from client_reaper_settings import ClientReaperSettings

from pipeline_common.observability import logger, metrics, tracer

settings = ClientReaperSettings()  # type: ignore[call-arg]  # values come from the environment
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def handle_record(record: DynamoDBRecord) -> None:
    reap(change=record.raw_event, settings=settings)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
