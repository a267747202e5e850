"""One message of an algorithm's request dead-letter queue: kept, and its job ended.

A request reaches the DLQ when its queue's ``maxReceiveCount`` receives never deleted it: the
worker died during every attempt (killed for lack of memory, the task stopped), or the message
is not a job at all. The worker itself fails a job whose last allowed attempt failed in Python,
so what arrives here is what no worker could end.

1. **Kept**: the message (body, attributes, queue) is written to
   ``s3://DEAD_LETTER_BUCKET/DEAD_LETTER_PREFIX<queue name>/<message id>.json`` before anything
   else; Lambda's event source deletes it from the DLQ only after the record succeeded, so the
   input is always in one of the two places. The key is the message id: a retried record
   rewrites the same object.
2. **Ended**: a ``JobMessage`` is set FAILED with the reason (only if it is not DONE/FAILED
   already: a job a worker ended is left as it is, and nothing is published again) and its
   FAILED result published like the worker's (``pipeline_common.job_endings``). A body that is
   not a job has no job to end: it is only kept.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from job_dead_letters_settings import JobDeadLettersSettings
from pydantic import ValidationError

from pipeline_common import aws
from pipeline_common.contracts.common import utc_now
from pipeline_common.contracts.jobs import JobMessage
from pipeline_common.job_endings import JobEnder
from pipeline_common.observability import logger, metrics
from pipeline_common.tables.jobs import JobRow, get_job


def dead_letter_key(settings: JobDeadLettersSettings, record: dict[str, Any]) -> str:
    queue_name = str(record.get("eventSourceARN", "unknown-queue")).rsplit(":", 1)[-1]
    return f"{settings.dead_letter_prefix}{queue_name}/{record['messageId']}.json"


def keep(record: dict[str, Any], settings: JobDeadLettersSettings) -> str:
    key = dead_letter_key(settings, record)
    document = {
        "queue_arn": record.get("eventSourceARN"),
        "message_id": record["messageId"],
        "body": record.get("body", ""),
        "attributes": record.get("attributes", {}),
        "message_attributes": record.get("messageAttributes", {}),
        "kept_at": utc_now().isoformat(),
    }
    aws.client("s3").put_object(
        Bucket=settings.dead_letter_bucket,
        Key=key,
        Body=json.dumps(document, indent=2, sort_keys=True).encode(),
        ContentType="application/json",
    )
    return key


def reason_for(row: JobRow | None) -> str:
    attempts = row.receive_count if row else None
    last_error = row.last_error if row else None
    tried = (
        f"after {attempts} attempt(s)" if attempts is not None else "before any worker started it"
    )
    cause = (
        f"last error: {last_error}"
        if last_error
        else "its worker stopped during each attempt, for example out of memory"
    )
    return f"no worker could complete the job {tried} ({cause}); its request was dead-lettered"


def end_dead_letter(
    record: dict[str, Any], *, settings: JobDeadLettersSettings, ender: JobEnder
) -> str:
    """Keep one DLQ record and end its job; what happened: ``failed``, ``already-ended``,
    ``not-a-job``."""
    key = keep(record, settings)
    try:
        job = JobMessage.model_validate_json(record.get("body", ""))
    except ValidationError:
        logger.warning("dead letter is not a job; kept", extra={"key": key})
        metrics.add_metric(name="DeadLettersNotJobs", unit=MetricUnit.Count, value=1)
        return "not-a-job"
    row = get_job(settings.jobs_table, job.job_id)
    ended = ender.fail(job, reason_for(row), ended_by="dead-letter")
    outcome = "failed" if ended else "already-ended"
    logger.info(
        "dead-lettered job",
        extra={"job_id": job.job_id, "algo_id": job.algo_id, "outcome": outcome, "key": key},
    )
    if ended:
        metrics.add_metric(name="DeadLetteredJobsFailed", unit=MetricUnit.Count, value=1)
    return outcome
