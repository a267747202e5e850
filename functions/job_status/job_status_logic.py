"""Describe one job from its JobsTable item, signing links to its outputs on demand.

The router writes ``status``, ``client_id``, ``algo_id``, ``created_at``, ``updated_at``; the
worker adds ``started_at``, ``completed_at``, ``reason`` and ``result`` (the JSON of the
``JobResult`` it published). Timings come from the result, or from a ``timings_ms`` map the worker
may write while the job runs.

A job is shown to the user who submitted it (the row's ``owner``) and to admins; to anyone else it
is the same 404 as a job that does not exist, so job ids cannot be probed.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from job_status_settings import JobStatusSettings
from pydantic import ValidationError

from pipeline_common import aws
from pipeline_common.contracts.clients import JobView
from pipeline_common.contracts.jobs import JOB_ID_PATTERN, JobResult
from pipeline_common.http import InvalidRequest, NotFound, deliverable
from pipeline_common.identity import Caller
from pipeline_common.observability import logger

_deserializer = TypeDeserializer()


def describe_job(
    *, job_id: str, caller: Caller, now: datetime, settings: JobStatusSettings
) -> JobView:
    if not re.fullmatch(JOB_ID_PATTERN, job_id):
        raise InvalidRequest(
            "job_id must be 8-64 letters, digits, '_' or '-'", field="job_id", code="invalid_job_id"
        )
    found = aws.client("dynamodb").get_item(
        TableName=settings.jobs_table, Key={"job_id": {"S": job_id}}
    )
    item = {key: _deserializer.deserialize(value) for key, value in found.get("Item", {}).items()}
    if not item or not caller.may_see(item.get("owner")):
        raise NotFound(f"no job {job_id}", field="job_id", code="unknown_job")

    result = _stored_result(item)
    timings = {key: float(value) for key, value in (item.get("timings_ms") or {}).items()}
    if result is not None:
        timings = {**timings, **result.timings_ms}
    return JobView(
        job_id=job_id,
        status=item["status"],
        algo_id=item.get("algo_id", ""),
        client_id=item.get("client_id", ""),
        created_at=item.get("created_at"),
        updated_at=item.get("updated_at"),
        started_at=item.get("started_at"),
        completed_at=item.get("completed_at") or (result.completed_at if result else None),
        timings_ms=timings,
        reason=item.get("reason") or (result.reason if result else None),
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


def _stored_result(item: dict[str, Any]) -> JobResult | None:
    raw = item.get("result")
    if not raw:
        return None
    try:
        if isinstance(raw, dict):  # Tolerate a worker that stores the result as a map.
            return JobResult.model_validate(raw)
        return JobResult.model_validate_json(raw)
    except ValidationError:
        # The job's status still answers the question; a broken result is a worker bug to log.
        logger.exception("stored result is not a JobResult", extra={"job_id": item["job_id"]})
        return None
