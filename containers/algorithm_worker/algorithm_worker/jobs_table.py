"""The worker's JobsTable transitions, each a conditional update so a redelivered job never runs
twice (the writes themselves are ``pipeline_common.tables.jobs``'s).

QUEUED/RUNNING -> RUNNING (claim; RUNNING too, because a worker killed mid-job leaves it so and
the redelivered message must be able to finish it), RUNNING -> DONE/FAILED (finish). ``finish``
also sets ``publish_pending``, removed once the result is published (``published``): a result
whose publish was lost on the last receive is published by the dead-letter consumer or the
sweeper (``pipeline_common.job_endings``), and by no one else.

While a job runs, ``heartbeat_at`` (epoch seconds) is set at the claim and at every beat of the
visibility heartbeat; the sweeper fails a RUNNING job whose heartbeat is older than its bound.
A transient failure records ``last_error`` (the exception's type, never its text), which the
reason of a job failed later (last receive, dead-letter queue, sweeper) names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline_common.contracts.jobs import JobMessage, JobResult, JobStatus
from pipeline_common.tables.jobs import (
    beat_job,
    claim_job,
    finish_job,
    get_job,
    mark_job_published,
    note_job_error,
)


@dataclass(frozen=True)
class Claim:
    """The outcome of a claim: ``final`` holds the stored result when the job had already ended."""

    claimed: bool
    status: JobStatus
    final: JobResult | None = None
    # The final result was stored but its publish not confirmed (``publish_pending``).
    unpublished: bool = False


class JobsTable:
    """The worker's view of JobsTable (``pipeline_common.tables.jobs`` owns the writes), bound
    to the worker's client and its jobs' time to live."""

    def __init__(self, dynamodb: Any, table_name: str, ttl_days: int) -> None:
        self.dynamodb = dynamodb
        self.table_name = table_name
        self.ttl_seconds = ttl_days * 86_400

    def claim(self, job: JobMessage, receive_count: int) -> Claim:
        if claim_job(
            self.table_name,
            job,
            receive_count=receive_count,
            ttl_seconds=self.ttl_seconds,
            dynamodb=self.dynamodb,
        ):
            return Claim(claimed=True, status=JobStatus.RUNNING)
        return self.stored(job.job_id)

    def beat(self, job_id: str) -> None:
        """The job is alive: ``heartbeat_at`` = now (only while it is RUNNING)."""
        beat_job(self.table_name, job_id, dynamodb=self.dynamodb)

    def note_failure(self, job_id: str, error: str) -> None:
        """An attempt failed transiently with ``error`` (a type name)."""
        note_job_error(self.table_name, job_id, error, dynamodb=self.dynamodb)

    def finish(self, result: JobResult) -> bool:
        """Record the final state; False when another delivery already finished the job."""
        return finish_job(self.table_name, result, dynamodb=self.dynamodb)

    def published(self, job_id: str) -> None:
        """The final result is published: no one needs to publish it again."""
        mark_job_published(self.table_name, job_id, dynamodb=self.dynamodb)

    def stored(self, job_id: str) -> Claim:
        """The job's stored status and final result (None while it has none)."""
        row = get_job(self.table_name, job_id, dynamodb=self.dynamodb)
        if row is None:
            raise LookupError(f"job {job_id} has no row to read its state from")
        return Claim(
            claimed=False,
            status=row.state(),
            final=row.final_result(),
            unpublished=row.publish_pending,
        )
