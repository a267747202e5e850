"""Describe one job from its JobsTable item, signing links to its outputs on demand.

The router writes ``status``, ``client_id``, ``algo_id``, ``created_at``, ``updated_at``; the
worker adds ``started_at``, ``completed_at``, ``reason`` and ``result`` (the JSON of the
``JobResult`` it published), whose timings are the job's (``pipeline_common.tables.jobs``).

A job is shown to the user who submitted it (the row's ``owner``) and to admins; to anyone else it
is the same 404 as a job that does not exist, so job ids cannot be probed.
"""

from __future__ import annotations

import re
from datetime import datetime

from job_status_settings import JobStatusSettings
from pydantic import ValidationError

from pipeline_common.contracts.clients import JobView
from pipeline_common.contracts.jobs import JOB_ID_PATTERN, JobResult
from pipeline_common.http import InvalidRequest, NotFound, deliverable
from pipeline_common.identity import Caller
from pipeline_common.observability import logger
from pipeline_common.tables.jobs import JobRow, get_job


def describe_job(
    *, job_id: str, caller: Caller, now: datetime, settings: JobStatusSettings
) -> JobView:
    if not re.fullmatch(JOB_ID_PATTERN, job_id):
        raise InvalidRequest(
            "job_id must be 8-64 letters, digits, '_' or '-'", field="job_id", code="invalid_job_id"
        )
    row = get_job(settings.jobs_table, job_id, consistent=False)
    if row is None or not caller.may_see(row.owner):
        raise NotFound(f"no job {job_id}", field="job_id", code="unknown_job")

    result = _stored_result(row)
    return JobView(
        job_id=job_id,
        status=row.state(),
        algo_id=row.algo_id,
        client_id=row.client_id,
        created_at=_moment(row.created_at),
        updated_at=_moment(row.updated_at),
        started_at=_moment(row.started_at),
        completed_at=_moment(row.completed_at) or (result.completed_at if result else None),
        timings_ms=dict(result.timings_ms) if result is not None else {},
        reason=row.reason or (result.reason if result else None),
        result=(
            deliverable(
                result,
                output_bucket=settings.output_bucket,
                expiry_seconds=settings.presign_expiry_seconds,
                now=now,
            )
            if result is not None
            else None
        ),
    )


def _moment(stored: str | None) -> datetime | None:
    """A stored ISO-8601 time (every writer's ``isoformat()``)."""
    return datetime.fromisoformat(stored) if stored else None


def _stored_result(row: JobRow) -> JobResult | None:
    try:
        return row.final_result()
    except ValidationError:
        # The job's status still answers the question; a broken result is a worker bug to log.
        logger.exception("stored result is not a JobResult", extra={"job_id": row.job_id})
        return None
