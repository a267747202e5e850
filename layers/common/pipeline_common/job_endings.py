"""How an algorithm job ends, for whoever ends it: the worker that ran it, the consumer of the
request dead-letter queues, or the sweeper of jobs whose worker was lost.

- ``ResultPublisher``: a ``JobResult`` to ``ResultsTopic`` (SNS FIFO): group = client (each
  client's results in order), dedup id = job id (a republish within SNS's 5-minute window is
  dropped), attribute ``client_id`` (for a filtered subscriber; poll clients have none, they read
  JobsTable).
- ``failed_result``: the FAILED ``JobResult`` of a job, with its reason.
- ``JobEnder.fail``: the job set FAILED with its result in one conditional write
  (``pipeline_common.tables.jobs.fail_job``: only where the caller's condition holds, so a job
  that ended meanwhile is never overwritten), then the result is published. The row carries
  ``publish_pending`` from the write until the publish succeeded (the worker's finish sets it
  too): whoever stopped between the two, a retry finds it (the refused write returns the old row;
  the sweeper scans for it) and publishes the stored result, so no ended job stays unannounced,
  and a result already published is never published again.
"""

from __future__ import annotations

from typing import Any

from pipeline_common import aws
from pipeline_common.contracts.common import utc_now
from pipeline_common.contracts.jobs import JobMessage, JobResult, JobStatus
from pipeline_common.tables.jobs import (
    NOT_FINAL,
    JobRow,
    fail_job,
    mark_job_published,
)


class ResultPublisher:
    def __init__(self, sns: Any, topic_arn: str) -> None:
        self.sns = sns
        self.topic_arn = topic_arn

    def publish(self, result: JobResult) -> str:
        response = self.sns.publish(
            TopicArn=self.topic_arn,
            Message=result.model_dump_json(),
            # One group per client keeps each client's results in order; the job id as the
            # dedup id makes a republish (redelivered job) a no-op within SNS's 5-minute window.
            MessageGroupId=result.client_id,
            MessageDeduplicationId=result.job_id,
            MessageAttributes=aws.string_attributes(
                client_id=result.client_id, algo_id=result.algo_id, status=result.status.value
            ),
        )
        return str(response["MessageId"])


def failed_result(job: JobMessage, reason: str) -> JobResult:
    return JobResult(
        job_id=job.job_id,
        client_id=job.client_id,
        algo_id=job.algo_id,
        status=JobStatus.FAILED,
        reason=reason,
        pacs=job.pacs,
        submitted_at=job.submitted_at,
        completed_at=utc_now(),
    )


class JobEnder:
    """Fails jobs in JobsTable and publishes their FAILED results, each at most once."""

    def __init__(
        self,
        table_name: str,
        topic_arn: str,
        *,
        ttl_days: int = 30,
        dynamodb: Any | None = None,
        sns: Any | None = None,
    ) -> None:
        self.table_name = table_name
        self.ttl_seconds = ttl_days * 86_400
        self.dynamodb = dynamodb or aws.client("dynamodb")
        self.publisher = ResultPublisher(sns or aws.client("sns"), topic_arn)

    def fail(
        self,
        job: JobMessage,
        reason: str,
        *,
        ended_by: str,
        condition: str = NOT_FINAL,
        names: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> bool:
        """Set ``job`` FAILED with ``reason`` where ``condition`` holds, and publish the result.

        True when this call failed the job; False when the condition did not hold (the job
        ended otherwise, or is still alive): the row is left as it is, and only a result stored
        and never published (``publish_pending``) is published now.
        """
        result = failed_result(job, reason)
        outcome = fail_job(
            self.table_name,
            job,
            result,
            ended_by=ended_by,
            ttl_seconds=self.ttl_seconds,
            condition=condition,
            names=names,
            values=values,
            dynamodb=self.dynamodb,
        )
        if not outcome.failed:
            if outcome.stored is not None:
                self.publish_pending(outcome.stored)
            return False
        self.publisher.publish(result)
        self._published(job.job_id)
        return True

    def publish_pending(self, row: JobRow) -> bool:
        """Publish the stored result of a row still marked ``publish_pending``; True if done."""
        stored = row.final_result() if row.publish_pending else None
        if stored is None:
            return False
        self.publisher.publish(stored)
        self._published(stored.job_id)
        return True

    def _published(self, job_id: str) -> None:
        mark_job_published(self.table_name, job_id, dynamodb=self.dynamodb)
