"""JobsTable: one row per algorithm job, and every write and read of it.

Who writes what:

- the router creates the row (``put_new_job``: QUEUED, ``owner``, ``client_id``, ``algo_id``,
  ``request`` = the queued ``JobMessage``'s JSON, ``request_hash``, ``created_at`` =
  ``updated_at``, ``ttl``) and removes a row it could not queue (``forget_unqueued_job``);
- the worker claims it (``claim_job``: QUEUED/RUNNING -> RUNNING, ``started_at``,
  ``receive_count``, ``heartbeat_at``), beats (``beat_job``), notes a transient error
  (``note_job_error``: ``last_error``, the exception's type) and finishes it (``finish_job``:
  RUNNING -> DONE/FAILED);
- whoever fails a job the worker could not end (``fail_job``: the worker's last receive, the
  request dead-letter consumer, the sweeper) sets it FAILED where the caller's condition holds.

Every final write sets ``result`` (the ``JobResult``'s JSON), ``completed_at``, ``ended_by``,
``publish_pending`` (until ``mark_job_published``) and ``completed_seq``, the sort key of
``client-results-index`` (``pipeline_common.result_feed``). A claim or a failure of a job that
has no row yet (enqueued without the router) writes the same ``client_id``/``algo_id``/
``request``/``created_at``/``ttl`` the router would have, with ``if_not_exists`` so the router's
win. ``created_at`` is fixed-width ISO-8601 UTC (``iso_utc``), the range key of
``owner-index``: fixed width keeps text order equal to time order.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from pipeline_common import aws
from pipeline_common.contracts.common import utc_now
from pipeline_common.contracts.jobs import JobMessage, JobResult, JobStatus
from pipeline_common.result_feed import SEQ_ATTRIBUTE, seq_assignment
from pipeline_common.tables.attributes import flag, is_refusal, number, text

#: A user's jobs by ``created_at`` (keys only): the per-user submission rate counts it.
OWNER_INDEX = "owner-index"
#: A client's final jobs by ``completed_seq`` (sparse): ``GET /results`` pages it.
CLIENT_RESULTS_INDEX = "client-results-index"

#: Condition of "not ended yet": no row at all, or a row still QUEUED or RUNNING.
NOT_FINAL = "attribute_not_exists(job_id) OR #status IN (:queued, :running)"
NOT_FINAL_VALUES = {
    ":queued": {"S": JobStatus.QUEUED.value},
    ":running": {"S": JobStatus.RUNNING.value},
}


def iso_utc(moment: datetime) -> str:
    """``2026-01-19T09:15:32.114000+00:00``: always microseconds, always ``+00:00``."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class JobRow:
    """A JobsTable row as far as it was read (a projection or an index leaves fields unset)."""

    job_id: str
    status: JobStatus | None = None
    # None for a row a worker created without the router (visible to admins alone).
    owner: str | None = None
    client_id: str = ""
    algo_id: str = ""
    request: str = ""  # the queued JobMessage's JSON, sent again on a replay
    request_hash: str = ""
    created_at: str | None = None
    updated_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    reason: str | None = None
    result: str | None = None  # the final JobResult's JSON
    ended_by: str | None = None
    publish_pending: bool = False
    completed_seq: str | None = None
    receive_count: int | None = None
    heartbeat_at: int | None = None
    last_error: str | None = None
    ttl: int = 0

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> JobRow:
        status = text(item, "status")
        return cls(
            job_id=text(item, "job_id") or "",
            status=JobStatus(status) if status else None,
            owner=text(item, "owner"),
            client_id=text(item, "client_id") or "",
            algo_id=text(item, "algo_id") or "",
            request=text(item, "request") or "",
            request_hash=text(item, "request_hash") or "",
            created_at=text(item, "created_at"),
            updated_at=text(item, "updated_at"),
            started_at=text(item, "started_at"),
            completed_at=text(item, "completed_at"),
            reason=text(item, "reason"),
            result=text(item, "result"),
            ended_by=text(item, "ended_by"),
            publish_pending=flag(item, "publish_pending"),
            completed_seq=text(item, SEQ_ATTRIBUTE),
            receive_count=number(item, "receive_count"),
            heartbeat_at=number(item, "heartbeat_at"),
            last_error=text(item, "last_error"),
            ttl=number(item, "ttl") or 0,
        )

    def to_item(self) -> dict[str, Any]:
        """The row's attributes that are set (a new row has no ``reason``, ``result``...)."""
        item: dict[str, Any] = {"job_id": {"S": self.job_id}}
        if self.status is not None:
            item["status"] = {"S": self.status.value}
        strings = {
            "owner": self.owner,
            "client_id": self.client_id,
            "algo_id": self.algo_id,
            "request": self.request,
            "request_hash": self.request_hash,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "reason": self.reason,
            "result": self.result,
            "ended_by": self.ended_by,
            SEQ_ATTRIBUTE: self.completed_seq,
            "last_error": self.last_error,
        }
        item.update({name: {"S": value} for name, value in strings.items() if value})
        numbers = {
            "receive_count": self.receive_count,
            "heartbeat_at": self.heartbeat_at,
            "ttl": self.ttl or None,
        }
        item.update(
            {name: {"N": str(value)} for name, value in numbers.items() if value is not None}
        )
        if self.publish_pending:
            item["publish_pending"] = {"BOOL": True}
        return item

    def state(self) -> JobStatus:
        """The status of a row read whole (every row has one; a projection may leave it out)."""
        if self.status is None:
            raise LookupError(f"job {self.job_id} was read without its status")
        return self.status

    def job(self) -> JobMessage | None:
        """The ``JobMessage`` the job was queued with, None if the row has no readable one."""
        if not self.request:
            return None
        try:
            return JobMessage.model_validate_json(self.request)
        except ValidationError:
            return None

    def final_result(self) -> JobResult | None:
        """The stored final result (None while there is none); a stored result that is not a
        ``JobResult`` raises ``ValidationError``."""
        return JobResult.model_validate_json(self.result) if self.result else None


def _db(dynamodb: Any | None) -> Any:
    return dynamodb or aws.client("dynamodb")


def _key(job_id: str) -> dict[str, Any]:
    return {"job_id": {"S": job_id}}


def get_job(
    table: str, job_id: str, *, consistent: bool = True, dynamodb: Any | None = None
) -> JobRow | None:
    found = _db(dynamodb).get_item(TableName=table, Key=_key(job_id), ConsistentRead=consistent)
    return JobRow.from_item(found["Item"]) if "Item" in found else None


def put_new_job(table: str, row: JobRow, *, dynamodb: Any | None = None) -> bool:
    """Write ``row`` if its ``job_id`` is free; False when the id is taken."""
    try:
        _db(dynamodb).put_item(
            TableName=table, Item=row.to_item(), ConditionExpression="attribute_not_exists(job_id)"
        )
    except ClientError as exc:
        if is_refusal(exc):
            return False
        raise
    return True


def forget_unqueued_job(
    table: str, *, job_id: str, request_hash: str, dynamodb: Any | None = None
) -> None:
    """Remove a job a request just wrote and could not queue (still QUEUED, same hash)."""
    _db(dynamodb).delete_item(
        TableName=table,
        Key=_key(job_id),
        ConditionExpression="#s = :queued AND request_hash = :digest",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":queued": {"S": JobStatus.QUEUED.value},
            ":digest": {"S": request_hash},
        },
    )


def count_jobs_created_since(
    table: str, *, owner: str, since: datetime, limit: int, dynamodb: Any | None = None
) -> int:
    """Jobs ``owner`` created after ``since``, counted up to ``limit`` (enough to decide a cap,
    without reading a heavy user's whole minute)."""
    arguments: dict[str, Any] = {
        "TableName": table,
        "IndexName": OWNER_INDEX,
        "KeyConditionExpression": "#owner = :owner AND created_at > :since",
        "ExpressionAttributeNames": {"#owner": "owner"},
        "ExpressionAttributeValues": {":owner": {"S": owner}, ":since": {"S": iso_utc(since)}},
        "Select": "COUNT",
    }
    count = 0
    while count < limit:
        page = _db(dynamodb).query(**arguments, Limit=limit - count)
        count += int(page.get("Count", 0))
        if "LastEvaluatedKey" not in page:
            break
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return count


#: What a claim or a failure writes into a job that has no row yet (enqueued without the
#: router): the router's fields, each only where missing, so the router's win and nothing is
#: lost. ``created_at`` takes the write's ``:now``.
_BACKFILL = (
    "client_id = if_not_exists(client_id, :client), "
    "algo_id = if_not_exists(algo_id, :algo), "
    "#request = if_not_exists(#request, :request), "
    "created_at = if_not_exists(created_at, :now), "
    "#ttl = if_not_exists(#ttl, :ttl)"
)
_BACKFILL_NAMES = {"#request": "request", "#ttl": "ttl"}


def _backfill_values(job: JobMessage, ttl_seconds: int) -> dict[str, Any]:
    return {
        ":client": {"S": job.client_id},
        ":algo": {"S": job.algo_id},
        ":request": {"S": job.model_dump_json()},
        ":ttl": {"N": str(int(time.time()) + ttl_seconds)},
    }


def _final_state(result: JobResult, ended_by: str) -> tuple[str, dict[str, Any]]:
    """The SET clauses (and their values) of a job made final: every writer of DONE or FAILED
    writes all of them, ``completed_seq`` included (``pipeline_common.result_feed``)."""
    # Stamped now, at the write (not completed_at, taken before the outputs were uploaded).
    seq_clause, seq_values = seq_assignment(result.job_id)
    clause = (
        "#status = :final, #result = :result, reason = :reason, "
        "completed_at = :now, updated_at = :now, ended_by = :by, "
        f"publish_pending = :pending, {seq_clause}"
    )
    return clause, {
        ":final": {"S": result.status.value},
        ":result": {"S": result.model_dump_json()},
        ":now": {"S": result.completed_at.isoformat()},
        ":reason": {"S": result.reason} if result.reason else {"NULL": True},
        ":by": {"S": ended_by},
        ":pending": {"BOOL": True},
        **seq_values,
    }


def claim_job(
    table: str,
    job: JobMessage,
    *,
    receive_count: int,
    ttl_seconds: int,
    dynamodb: Any | None = None,
) -> bool:
    """QUEUED/RUNNING -> RUNNING (RUNNING too: a worker killed mid-job leaves it so, and the
    redelivered message must be able to finish it); False when the job had ended."""
    try:
        _db(dynamodb).update_item(
            TableName=table,
            Key=_key(job.job_id),
            UpdateExpression=(
                "SET #status = :running, started_at = :now, updated_at = :now, "
                f"receive_count = :receives, heartbeat_at = :beat, {_BACKFILL}"
            ),
            ConditionExpression=NOT_FINAL,
            ExpressionAttributeNames={"#status": "status", **_BACKFILL_NAMES},
            ExpressionAttributeValues={
                **NOT_FINAL_VALUES,
                ":now": {"S": utc_now().isoformat()},
                ":receives": {"N": str(receive_count)},
                ":beat": {"N": str(int(time.time()))},
                **_backfill_values(job, ttl_seconds),
            },
        )
    except ClientError as exc:
        if is_refusal(exc):
            return False
        raise
    return True


def beat_job(table: str, job_id: str, *, dynamodb: Any | None = None) -> None:
    """The job is alive: ``heartbeat_at`` = now (only while it is RUNNING)."""
    _update_running(
        table, job_id, "SET heartbeat_at = :beat", {":beat": {"N": str(int(time.time()))}}, dynamodb
    )


def note_job_error(table: str, job_id: str, error: str, *, dynamodb: Any | None = None) -> None:
    """An attempt failed transiently with ``error`` (a type name, never the exception's text)."""
    _update_running(
        table, job_id, "SET last_error = :error", {":error": {"S": error[:100]}}, dynamodb
    )


def _update_running(
    table: str, job_id: str, expression: str, values: dict[str, Any], dynamodb: Any | None
) -> None:
    try:
        _db(dynamodb).update_item(
            TableName=table,
            Key=_key(job_id),
            UpdateExpression=expression,
            ConditionExpression="#status = :running",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":running": {"S": JobStatus.RUNNING.value}, **values},
        )
    except ClientError as exc:
        if not is_refusal(exc):
            raise


def finish_job(table: str, result: JobResult, *, dynamodb: Any | None = None) -> bool:
    """RUNNING -> the result's DONE/FAILED; False when another delivery already finished it."""
    final, final_values = _final_state(result, "worker")
    try:
        _db(dynamodb).update_item(
            TableName=table,
            Key=_key(result.job_id),
            UpdateExpression=f"SET {final}",
            ConditionExpression="#status = :running",
            ExpressionAttributeNames={"#status": "status", "#result": "result"},
            ExpressionAttributeValues={":running": {"S": JobStatus.RUNNING.value}, **final_values},
        )
    except ClientError as exc:
        if is_refusal(exc):
            return False
        raise
    return True


@dataclass(frozen=True, slots=True)
class FailOutcome:
    """``failed``: this write failed the job. Otherwise ``stored`` is the row the condition
    refused (None when there is no row)."""

    failed: bool
    stored: JobRow | None = None


def fail_job(
    table: str,
    job: JobMessage,
    result: JobResult,
    *,
    ended_by: str,
    ttl_seconds: int,
    condition: str = NOT_FINAL,
    names: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    dynamodb: Any | None = None,
) -> FailOutcome:
    """Set ``job`` FAILED with ``result`` (and its ``reason``) where ``condition`` holds
    (``NOT_FINAL`` by default, with ``values`` for its placeholders)."""
    final, final_values = _final_state(result, ended_by)
    try:
        _db(dynamodb).update_item(
            TableName=table,
            Key=_key(job.job_id),
            UpdateExpression=f"SET {final}, {_BACKFILL}",
            ConditionExpression=condition,
            ExpressionAttributeNames={
                "#status": "status",
                "#result": "result",
                **_BACKFILL_NAMES,
                **(names or {}),
            },
            ExpressionAttributeValues={
                **final_values,
                **_backfill_values(job, ttl_seconds),
                **(NOT_FINAL_VALUES if values is None else values),
            },
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if not is_refusal(exc):
            raise
        old = exc.response.get("Item")
        return FailOutcome(failed=False, stored=JobRow.from_item(old) if old else None)
    return FailOutcome(failed=True)


def mark_job_published(table: str, job_id: str, *, dynamodb: Any | None = None) -> None:
    """The job's final result is published: no one needs to publish it again."""
    try:
        _db(dynamodb).update_item(
            TableName=table,
            Key=_key(job_id),
            UpdateExpression="REMOVE publish_pending",
            ConditionExpression="attribute_exists(job_id)",  # never recreate a removed row
        )
    except ClientError as exc:
        if not is_refusal(exc):
            raise


def scan_jobs(
    table: str,
    *,
    filter_expression: str,
    projection: str,
    names: dict[str, str],
    values: dict[str, Any],
    dynamodb: Any | None = None,
) -> Iterator[list[JobRow]]:
    """The rows matching ``filter_expression``, one list per page read (the caller may stop
    between pages)."""
    pages = (
        _db(dynamodb)
        .get_paginator("scan")
        .paginate(
            TableName=table,
            FilterExpression=filter_expression,
            ProjectionExpression=projection,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    )
    for page in pages:
        yield [JobRow.from_item(item) for item in page.get("Items", [])]


def client_results(
    table: str, client_id: str, *, after: str, page_size: int, dynamodb: Any | None = None
) -> Iterator[JobRow]:
    """``client_id``'s final jobs with ``completed_seq`` above ``after`` (all when empty),
    oldest first, read from ``client-results-index`` page by page as the caller goes on
    (``job_id``, ``client_id``, ``completed_seq``, ``result`` and ``owner`` only)."""
    query: dict[str, Any] = {
        "TableName": table,
        "IndexName": CLIENT_RESULTS_INDEX,
        "KeyConditionExpression": "client_id = :client",
        "ExpressionAttributeValues": {":client": {"S": client_id}},
        "ExpressionAttributeNames": {"#result": "result", "#owner": "owner"},
        "ProjectionExpression": f"job_id, client_id, {SEQ_ATTRIBUTE}, #result, #owner",
        "ScanIndexForward": True,
        "Limit": min(page_size, 1000),
    }
    if after:
        query["KeyConditionExpression"] += f" AND {SEQ_ATTRIBUTE} > :after"
        query["ExpressionAttributeValues"][":after"] = {"S": after}
    while True:
        response = _db(dynamodb).query(**query)
        yield from (JobRow.from_item(item) for item in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return
        query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
