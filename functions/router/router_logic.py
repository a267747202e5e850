"""Accept a job: check it against the algorithm registry, the caller's clients and the caller's
submission rate, record it in JobsTable and put it on the algorithm's FIFO request queue, exactly
once per ``job_id``.

Tenancy: the body's ``client_id`` must name a live client of the caller (the token's user, never
the body); a missing, expired or foreign client is the same 404, so ids cannot be probed. Admins
get no exception here: submitting to someone's client would send them results they never asked
for. The job row records ``owner``; ``GET /jobs/{id}`` shows it to that user (and admins) only.

Rate: at most ``MAX_JOBS_PER_MINUTE`` jobs per user in any 60 s, counted on JobsTable's
``owner-index``; over it, 429 and nothing is written or queued. Check-then-write is not atomic,
so concurrent requests can overshoot by about their number: a throttle, not a billing quota.

Idempotency: the job is written with a conditional put on ``job_id``. A retry with the same
``job_id`` and the same request (same ``request_hash``) by the same user gets the existing job back
and, if it is still QUEUED, its stored message is sent again: FIFO de-duplication (dedup id = job
id) drops it within five minutes and workers ignore jobs that are no longer QUEUED after that, so
a retry after a crash between the write and the send is how a stuck job gets moving. A taken
``job_id`` is otherwise a 409 whose body is the same whether the job is the caller's (with another
request) or someone else's: it says the id is taken, never whose job it is or what it does. (A
404 would be wrong on a POST whose URL exists; job ids are unguessable, so "taken" tells nothing.)
A retry while over the rate is refused with 429 like any submission; it succeeds after the window.

Latency: the client check and the rate count read different tables and neither needs the other,
so they run side by side on a small pool kept across warm invocations (one DynamoDB round trip
instead of two on every submission). Their verdicts are read in the same order as before: an
unknown client is a 404 even when the caller is also over the rate.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError
from router_settings import RouterSettings

from pipeline_common import aws
from pipeline_common.contracts.clients import AlgorithmsResponse, SubmitJobResponse
from pipeline_common.contracts.jobs import JobMessage, JobStatus, ProcessRequest
from pipeline_common.http import Conflict, NotFound, ServiceUnavailable, TooManyRequests
from pipeline_common.identity import Caller
from pipeline_common.observability import logger
from pipeline_common.tables.clients import live_client_of
from pipeline_common.tables.jobs import (
    JobRow,
    count_jobs_created_since,
    forget_unqueued_job,
    get_job,
    iso_utc,
    put_new_job,
)

RATE_WINDOW = timedelta(seconds=60)
#: The two independent reads of a submission (client check, rate count); module-level so a
#: warm execution environment reuses its threads.
_READS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="router-read")


def list_algorithms(*, settings: RouterSettings) -> AlgorithmsResponse:
    return AlgorithmsResponse(algorithms=sorted(settings.algorithm_queues))


def request_hash(*, algo_id: str, request: ProcessRequest) -> str:
    """sha256 of the canonical request (what the job does, not when or how it was asked)."""
    canonical = {
        "algo_id": algo_id,
        "client_id": request.client_id,
        "pacs": request.pacs.model_dump(mode="json"),
    }
    encoded = json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


def submit_job(
    *,
    algo_id: str,
    request: ProcessRequest,
    caller: Caller,
    correlation_id: str | None,
    now: datetime,
    settings: RouterSettings,
) -> SubmitJobResponse:
    queue_url = settings.algorithm_queues.get(algo_id)
    if queue_url is None:
        raise NotFound(
            f"unknown algorithm {algo_id!r}; GET /algorithms lists them",
            field="algo_id",
            code="unknown_algorithm",
        )
    jobs = settings.jobs_table
    limit = settings.max_jobs_per_minute
    aws.client("dynamodb")  # created once here, not raced by the two reads below
    own_client = _READS.submit(
        live_client_of, settings.clients_table, request.client_id, owner=caller.owner_id, now=now
    )
    recent = _READS.submit(
        count_jobs_created_since, jobs, owner=caller.owner_id, since=now - RATE_WINDOW, limit=limit
    )
    if own_client.result() is None:
        # One answer for missing, expired and someone else's: a client id cannot be probed.
        raise NotFound(
            "unknown client_id; provision one with POST /clients",
            field="client_id",
            code="unknown_client",
        )
    _enforce_rate(recent.result(), caller=caller, limit=limit)

    job_id = request.job_id or uuid.uuid4().hex
    message = JobMessage(
        job_id=job_id,
        client_id=request.client_id,
        algo_id=algo_id,
        pacs=request.pacs,
        submitted_at=now,
        correlation_id=correlation_id,
    )
    created_at = iso_utc(now)
    record = JobRow(
        job_id=job_id,
        owner=caller.owner_id,
        status=JobStatus.QUEUED,
        client_id=request.client_id,
        algo_id=algo_id,
        request=message.model_dump_json(exclude_none=True),
        request_hash=request_hash(algo_id=algo_id, request=request),
        created_at=created_at,
        updated_at=created_at,
        ttl=int((now + timedelta(days=settings.job_ttl_days)).timestamp()),
    )

    existing = _record_new(jobs, record)
    if existing is not None:
        return _replay(existing, attempt=record, queue_url=queue_url)

    try:
        _send(queue_url=queue_url, body=record.request, job_id=job_id, group=record.client_id)
    except (ClientError, BotoCoreError) as exc:
        # Undo the record so nothing half-accepted stays behind; the client retries as is.
        _forget(jobs, record)
        raise ServiceUnavailable("the job could not be queued; retry the request") from exc
    logger.info("job queued", extra={"job_id": job_id, "algo_id": algo_id})
    return SubmitJobResponse(job_id=job_id, algo_id=algo_id, status=JobStatus.QUEUED)


def _enforce_rate(recent: int, *, caller: Caller, limit: int) -> None:
    """429 when ``recent`` (the caller's jobs in the last ``RATE_WINDOW``) reached ``limit``."""
    if recent >= limit:
        logger.info("job rate reached", extra={"owner": caller.owner_id, "limit": limit})
        raise TooManyRequests(
            f"job rate limit reached: at most {limit} jobs per user in any 60 s; "
            "nothing was submitted, retry in a minute",
            code="job_rate_limited",
        )


def _record_new(jobs: str, record: JobRow, attempts: int = 2) -> JobRow | None:
    """Write the job if ``job_id`` is new; otherwise return the job already there."""
    for _ in range(attempts):
        if put_new_job(jobs, record):
            return None
        existing = get_job(jobs, record.job_id)
        if existing is not None:
            return existing
        # Deleted in between (TTL or a compensating delete): write it again, once.
    raise ServiceUnavailable("the job changed while it was submitted; retry the request")


def _replay(existing: JobRow, *, attempt: JobRow, queue_url: str) -> SubmitJobResponse:
    if existing.owner != attempt.owner or existing.request_hash != attempt.request_hash:
        raise Conflict(
            f"job_id {attempt.job_id} is already taken; choose another or leave job_id out",
            field="job_id",
            code="job_id_conflict",
        )
    status = existing.state()
    if status == JobStatus.QUEUED:
        try:
            _send(
                queue_url=queue_url,
                body=existing.request,
                job_id=existing.job_id,
                group=existing.client_id,
            )
        except (ClientError, BotoCoreError) as exc:
            raise ServiceUnavailable("the job could not be queued; retry the request") from exc
    logger.info("duplicate submission", extra={"job_id": existing.job_id, "status": status.value})
    return SubmitJobResponse(
        job_id=existing.job_id, algo_id=existing.algo_id, status=status, duplicate=True
    )


def _send(*, queue_url: str, body: str, job_id: str, group: str) -> None:
    aws.client("sqs").send_message(
        QueueUrl=queue_url,
        MessageBody=body,
        MessageGroupId=group,
        MessageDeduplicationId=job_id,
    )


def _forget(jobs: str, record: JobRow) -> None:
    try:
        forget_unqueued_job(jobs, job_id=record.job_id, request_hash=record.request_hash)
    except ClientError:
        logger.exception("could not remove the unqueued job", extra={"job_id": record.job_id})
