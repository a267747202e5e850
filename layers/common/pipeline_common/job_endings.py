"""How an algorithm job ends, for whoever ends it: the worker that ran it, the consumer of the
request dead-letter queues, or the sweeper of jobs whose worker was lost.

- ``ResultPublisher``: a ``JobResult`` to ``ResultsTopic`` (SNS FIFO): group = client (each
  client's results in order), dedup id = job id (a republish within SNS's 5-minute window is
  dropped), attribute ``client_id`` (for a filtered subscriber; poll clients have none, they read
  JobsTable).
- ``failed_result``: the FAILED ``JobResult`` of a job, with its reason.
- ``JobEnder.fail``: one conditional ``UpdateItem`` sets the job FAILED with its result (only
  where the caller's condition holds, so a job that ended meanwhile is never overwritten), then
  the result is published. The row carries ``publish_pending`` from the update until the publish
  succeeded (the worker's ``finish`` sets it too): whoever stopped between the two, a retry finds
  it (the condition check returns the old row; the sweeper scans for it) and publishes the
  stored result, so no ended job stays unannounced, and a result already published is never
  published again.

JobsTable attributes written here: ``status``, ``result`` (the JobResult's JSON), ``reason``,
``completed_at``, ``updated_at``, ``ended_by`` (``worker``, ``dead-letter``, ``sweeper``),
``publish_pending``, ``completed_seq`` (the poll feed's sort key: ``pipeline_common.result_feed``;
every writer of a final state sets it, here and in the worker's ``JobsTable.finish``); and, for
a job that has no row yet (enqueued without the router), the same
``client_id``/``algo_id``/``request``/``created_at``/``ttl`` a worker's claim writes.
"""

from __future__ import annotations

import json
import time
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from pipeline_common import aws
from pipeline_common.contracts.common import utc_now
from pipeline_common.contracts.jobs import JobMessage, JobResult, JobStatus
from pipeline_common.result_feed import seq_assignment

#: Condition of "not ended yet": no row at all, or a row still QUEUED or RUNNING.
NOT_FINAL = "attribute_not_exists(job_id) OR #status IN (:queued, :running)"
NOT_FINAL_VALUES = {
    ":queued": {"S": JobStatus.QUEUED.value},
    ":running": {"S": JobStatus.RUNNING.value},
}


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


def job_of_item(item: dict[str, Any]) -> JobMessage | None:
    """The ``JobMessage`` a JobsTable row was queued with (its ``request``), None if unreadable."""
    request = item.get("request", {}).get("S")
    if not request:
        return None
    try:
        return JobMessage.model_validate_json(request)
    except ValidationError:
        return None


def text_of(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name, {})
    found = value.get("S", value.get("N"))
    return str(found) if found is not None else None


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
        now = result.completed_at.isoformat()
        # The poll feed's sort key, stamped at this write (pipeline_common.result_feed).
        seq_clause, seq_values = seq_assignment(job.job_id)
        try:
            self.dynamodb.update_item(
                TableName=self.table_name,
                Key={"job_id": {"S": job.job_id}},
                UpdateExpression=(
                    "SET #status = :failed, #result = :result, reason = :reason, "
                    "completed_at = :now, updated_at = :now, ended_by = :by, "
                    f"publish_pending = :pending, {seq_clause}, "
                    "client_id = if_not_exists(client_id, :client), "
                    "algo_id = if_not_exists(algo_id, :algo), "
                    "#request = if_not_exists(#request, :request), "
                    "created_at = if_not_exists(created_at, :now), "
                    "#ttl = if_not_exists(#ttl, :ttl)"
                ),
                ConditionExpression=condition,
                ExpressionAttributeNames={
                    "#status": "status",
                    "#result": "result",
                    "#request": "request",
                    "#ttl": "ttl",
                    **(names or {}),
                },
                ExpressionAttributeValues={
                    ":failed": {"S": JobStatus.FAILED.value},
                    ":result": {"S": result.model_dump_json()},
                    ":reason": {"S": reason},
                    ":now": {"S": now},
                    ":by": {"S": ended_by},
                    ":pending": {"BOOL": True},
                    ":client": {"S": job.client_id},
                    ":algo": {"S": job.algo_id},
                    ":request": {"S": job.model_dump_json()},
                    ":ttl": {"N": str(int(time.time()) + self.ttl_seconds)},
                    **seq_values,
                    **(NOT_FINAL_VALUES if values is None else values),
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            self.publish_pending(exc.response.get("Item") or {})
            return False
        self.publisher.publish(result)
        self._published(job.job_id)
        return True

    def publish_pending(self, item: dict[str, Any]) -> bool:
        """Publish the stored result of a row still marked ``publish_pending``; True if done."""
        stored = text_of(item, "result")
        if not item.get("publish_pending", {}).get("BOOL") or not stored:
            return False
        result = JobResult.model_validate(json.loads(stored))
        self.publisher.publish(result)
        self._published(result.job_id)
        return True

    def _published(self, job_id: str) -> None:
        mark_published(self.dynamodb, self.table_name, job_id)


def mark_published(dynamodb: Any, table_name: str, job_id: str) -> None:
    """The job's final result is published: no one needs to publish it again (the worker's
    finish and every ``JobEnder`` clear ``publish_pending`` through here)."""
    try:
        dynamodb.update_item(
            TableName=table_name,
            Key={"job_id": {"S": job_id}},
            UpdateExpression="REMOVE publish_pending",
            ConditionExpression="attribute_exists(job_id)",  # never recreate a removed row
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
