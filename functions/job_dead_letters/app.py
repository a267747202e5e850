"""JobDeadLettersFunction: the algorithms' request dead-letter queues -> each request kept in S3
and its job FAILED with the reason and published, unless it had ended already.

The DLQs are FIFO: a record that fails (S3, DynamoDB or SNS unavailable) fails the records after
it in its message group only; the event source gives them back to the DLQ, which keeps them
(no redrive) until they succeed.
"""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from job_dead_letters_logic import end_dead_letter
from job_dead_letters_settings import JobDeadLettersSettings

from pipeline_common.job_endings import JobEnder
from pipeline_common.observability import logger, metrics, tracer

settings = JobDeadLettersSettings()  # type: ignore[call-arg]  # values come from the environment
processor = SqsFifoPartialProcessor(skip_group_on_error=True)


@cache
def ender() -> JobEnder:  # clients on first use, not at import
    return JobEnder(settings.jobs_table, settings.results_topic_arn, ttl_days=settings.job_ttl_days)


def handle_record(record: SQSRecord) -> None:
    end_dead_letter(record.raw_event, settings=settings, ender=ender())


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
