"""Accept a job: check it against the algorithm registry and the client, record it in JobsTable
and put it on the algorithm's FIFO request queue, exactly once per ``job_id``.

Idempotency: the job is written with a conditional put on ``job_id``. A retry with the same
``job_id`` and the same request (same ``request_hash``) gets the existing job back and, if it is
still QUEUED, its stored message is sent again: FIFO de-duplication (dedup id = job id) drops it
within five minutes and workers ignore jobs that are no longer QUEUED after that, so a retry
after a crash between the write and the send is how a stuck job gets moving. The same ``job_id``
with a different request is a 409.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from router_settings import RouterSettings

from pipeline_common import aws
from pipeline_common.contracts.clients import AlgorithmsResponse, SubmitJobResponse
from pipeline_common.contracts.jobs import JobMessage, JobStatus, ProcessRequest
from pipeline_common.http import Conflict, InvalidRequest, NotFound, ServiceUnavailable
from pipeline_common.observability import logger


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
    _require_client(request.client_id, settings=settings)

    job_id = request.job_id or uuid.uuid4().hex
    message = JobMessage(
        job_id=job_id,
        client_id=request.client_id,
        algo_id=algo_id,
        pacs=request.pacs,
        submitted_at=now,
        correlation_id=correlation_id,
    )
    digest = request_hash(algo_id=algo_id, request=request)
    body = message.model_dump_json(exclude_none=True)

    existing = _put_job(message=message, body=body, digest=digest, now=now, settings=settings)
    if existing is not None:
        return _replay(existing, digest=digest, queue_url=queue_url)

    try:
        _send(queue_url=queue_url, body=body, job_id=job_id, group=request.client_id)
    except (ClientError, BotoCoreError) as exc:
        # Undo the record so nothing half-accepted stays behind; the client retries as is.
        _forget_job(job_id=job_id, digest=digest, settings=settings)
        raise ServiceUnavailable("the job could not be queued; retry the request") from exc
    logger.info("job queued", extra={"job_id": job_id, "algo_id": algo_id})
    return SubmitJobResponse(job_id=job_id, algo_id=algo_id, status=JobStatus.QUEUED)


def _require_client(client_id: str, *, settings: RouterSettings) -> None:
    item = aws.client("dynamodb").get_item(
        TableName=settings.clients_table,
        Key={"client_id": {"S": client_id}},
        ProjectionExpression="client_id",
    )
    if "Item" not in item:
        # 400, not 404: the URL names a resource that exists; the body names one that does not.
        raise InvalidRequest(
            "unknown client_id; provision one with POST /clients",
            field="client_id",
            code="unknown_client",
        )


def _put_job(
    *,
    message: JobMessage,
    body: str,
    digest: str,
    now: datetime,
    settings: RouterSettings,
    attempts: int = 2,
) -> dict[str, Any] | None:
    """Write the job if ``job_id`` is new; otherwise return the item already there."""
    stamp = now.isoformat()
    item = {
        "job_id": {"S": message.job_id},
        "status": {"S": JobStatus.QUEUED.value},
        "client_id": {"S": message.client_id},
        "algo_id": {"S": message.algo_id},
        "request": {"S": body},
        "request_hash": {"S": digest},
        "created_at": {"S": stamp},
        "updated_at": {"S": stamp},
        "ttl": {"N": str(int((now + timedelta(days=settings.job_ttl_days)).timestamp()))},
    }
    try:
        aws.client("dynamodb").put_item(
            TableName=settings.jobs_table,
            Item=item,
            ConditionExpression="attribute_not_exists(job_id)",
        )
        return None
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    found = aws.client("dynamodb").get_item(
        TableName=settings.jobs_table,
        Key={"job_id": {"S": message.job_id}},
        ConsistentRead=True,
    )
    if "Item" not in found:
        # Deleted in between (TTL or a compensating delete): write it again, once.
        if attempts <= 1:
            raise ServiceUnavailable("the job changed while it was submitted; retry the request")
        return _put_job(
            message=message,
            body=body,
            digest=digest,
            now=now,
            settings=settings,
            attempts=attempts - 1,
        )
    existing: dict[str, Any] = found["Item"]
    return existing


def _replay(existing: dict[str, Any], *, digest: str, queue_url: str) -> SubmitJobResponse:
    job_id = existing["job_id"]["S"]
    if existing.get("request_hash", {}).get("S") != digest:
        raise Conflict(
            f"job {job_id} already exists with a different request",
            field="job_id",
            code="job_id_conflict",
        )
    status = JobStatus(existing["status"]["S"])
    if status == JobStatus.QUEUED:
        try:
            _send(
                queue_url=queue_url,
                body=existing["request"]["S"],
                job_id=job_id,
                group=existing["client_id"]["S"],
            )
        except (ClientError, BotoCoreError) as exc:
            raise ServiceUnavailable("the job could not be queued; retry the request") from exc
    logger.info("duplicate submission", extra={"job_id": job_id, "status": status.value})
    return SubmitJobResponse(
        job_id=job_id, algo_id=existing["algo_id"]["S"], status=status, duplicate=True
    )


def _send(*, queue_url: str, body: str, job_id: str, group: str) -> None:
    aws.client("sqs").send_message(
        QueueUrl=queue_url,
        MessageBody=body,
        MessageGroupId=group,
        MessageDeduplicationId=job_id,
    )


def _forget_job(*, job_id: str, digest: str, settings: RouterSettings) -> None:
    try:
        aws.client("dynamodb").delete_item(
            TableName=settings.jobs_table,
            Key={"job_id": {"S": job_id}},
            ConditionExpression="#s = :queued AND request_hash = :digest",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":queued": {"S": JobStatus.QUEUED.value},
                ":digest": {"S": digest},
            },
        )
    except ClientError:
        logger.exception("could not remove the unqueued job", extra={"job_id": job_id})
