"""JobsTable transitions, each a conditional update so a redelivered job never runs twice.

QUEUED/RUNNING -> RUNNING (claim; RUNNING too, because a worker killed mid-job leaves it so and
the redelivered message must be able to finish it), RUNNING -> DONE/FAILED (finish). ``finish``
also sets ``publish_pending``, removed once the result is published (``published``): a result
whose publish was lost on the last receive is published by the dead-letter consumer or the
sweeper (``pipeline_common.job_endings``), and by no one else.

While a job runs, ``heartbeat_at`` (epoch seconds) is set at the claim and at every beat of the
visibility heartbeat; the sweeper fails a RUNNING job whose heartbeat is older than its bound.
A transient failure records ``last_error`` (the exception's type, never its text), which the
reason of a job failed later (last receive, dead-letter queue, sweeper) names.

``finish`` also sets ``completed_seq`` (``pipeline_common.result_feed``), the sort key of
``client-results-index`` that ``GET /results`` pages a poll client's results by: a job made final
without it never reaches a poll client.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from pipeline_common.contracts.common import utc_now
from pipeline_common.contracts.jobs import JobMessage, JobResult, JobStatus
from pipeline_common.job_endings import mark_published
from pipeline_common.result_feed import seq_assignment


@dataclass(frozen=True)
class Claim:
    """The outcome of a claim: ``final`` holds the stored result when the job had already ended."""

    claimed: bool
    status: JobStatus
    final: JobResult | None = None
    # The final result was stored but its publish not confirmed (``publish_pending``).
    unpublished: bool = False


class JobsTable:
    def __init__(self, dynamodb: Any, table_name: str, ttl_days: int) -> None:
        self.dynamodb = dynamodb
        self.table_name = table_name
        self.ttl_seconds = ttl_days * 86_400

    def claim(self, job: JobMessage, receive_count: int) -> Claim:
        now = utc_now().isoformat()
        try:
            self.dynamodb.update_item(
                TableName=self.table_name,
                Key={"job_id": {"S": job.job_id}},
                # if_not_exists: the router's fields win; a job enqueued without a row still
                # gets a complete one (client, algorithm, request, TTL), so nothing is lost.
                UpdateExpression=(
                    "SET #status = :running, started_at = :now, updated_at = :now, "
                    "receive_count = :receives, heartbeat_at = :beat, "
                    "client_id = if_not_exists(client_id, :client), "
                    "algo_id = if_not_exists(algo_id, :algo), "
                    "#request = if_not_exists(#request, :request), "
                    "created_at = if_not_exists(created_at, :now), "
                    "#ttl = if_not_exists(#ttl, :ttl)"
                ),
                ConditionExpression=(
                    "attribute_not_exists(job_id) OR #status IN (:queued, :running)"
                ),
                ExpressionAttributeNames={
                    "#status": "status",
                    "#ttl": "ttl",
                    "#request": "request",
                },
                ExpressionAttributeValues={
                    ":running": {"S": JobStatus.RUNNING.value},
                    ":queued": {"S": JobStatus.QUEUED.value},
                    ":now": {"S": now},
                    ":receives": {"N": str(receive_count)},
                    ":beat": {"N": str(int(time.time()))},
                    ":client": {"S": job.client_id},
                    ":algo": {"S": job.algo_id},
                    ":request": {"S": job.model_dump_json()},
                    ":ttl": {"N": str(int(time.time()) + self.ttl_seconds)},
                },
            )
            return Claim(claimed=True, status=JobStatus.RUNNING)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
        return self.stored(job.job_id)

    def beat(self, job_id: str) -> None:
        """The job is alive: ``heartbeat_at`` = now (only while it is RUNNING)."""
        self._update_running(
            job_id, "SET heartbeat_at = :beat", {":beat": {"N": str(int(time.time()))}}
        )

    def note_failure(self, job_id: str, error: str) -> None:
        """An attempt failed transiently with ``error`` (a type name)."""
        self._update_running(job_id, "SET last_error = :error", {":error": {"S": error[:100]}})

    def _update_running(self, job_id: str, expression: str, values: dict[str, Any]) -> None:
        try:
            self.dynamodb.update_item(
                TableName=self.table_name,
                Key={"job_id": {"S": job_id}},
                UpdateExpression=expression,
                ConditionExpression="#status = :running",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":running": {"S": JobStatus.RUNNING.value}, **values},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def finish(self, result: JobResult) -> bool:
        """Record the final state; False when another delivery already finished the job."""
        now = result.completed_at.isoformat()
        # Stamped now, at the write (not completed_at, taken before the outputs were uploaded).
        seq_clause, seq_values = seq_assignment(result.job_id)
        values = {
            ":final": {"S": result.status.value},
            ":running": {"S": JobStatus.RUNNING.value},
            ":result": {"S": result.model_dump_json()},
            ":now": {"S": now},
            ":reason": {"S": result.reason} if result.reason else {"NULL": True},
            ":by": {"S": "worker"},
            ":pending": {"BOOL": True},
            **seq_values,
        }
        try:
            self.dynamodb.update_item(
                TableName=self.table_name,
                Key={"job_id": {"S": result.job_id}},
                UpdateExpression=(
                    "SET #status = :final, #result = :result, reason = :reason, "
                    "completed_at = :now, updated_at = :now, ended_by = :by, "
                    f"publish_pending = :pending, {seq_clause}"
                ),
                ConditionExpression="#status = :running",
                ExpressionAttributeNames={"#status": "status", "#result": "result"},
                ExpressionAttributeValues=values,
            )
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise

    def published(self, job_id: str) -> None:
        """The final result is published: no one needs to publish it again."""
        mark_published(self.dynamodb, self.table_name, job_id)

    def stored(self, job_id: str) -> Claim:
        """The job's stored status and final result (None while it has none)."""
        item = self.dynamodb.get_item(
            TableName=self.table_name, Key={"job_id": {"S": job_id}}, ConsistentRead=True
        ).get("Item", {})
        status = JobStatus(item["status"]["S"])
        stored = item.get("result", {}).get("S")
        final = JobResult.model_validate(json.loads(stored)) if stored else None
        unpublished = bool(item.get("publish_pending", {}).get("BOOL"))
        return Claim(claimed=False, status=status, final=final, unpublished=unpublished)
