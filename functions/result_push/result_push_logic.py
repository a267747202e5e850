"""Push one result to every live connection of its client.

- A connection that answers ``GoneException`` is deleted and counted as ``Disconnected``; the
  message still succeeds (the client is offline; ``GET /jobs/{id}`` has the result).
- Any other failure is counted in ``PushFailures`` and fails the record after every connection
  was tried, so SQS redelivers it (and dead-letters it after ``maxReceiveCount``). A retry may
  push twice to a connection that already got it: clients de-duplicate on ``job_id``.
- A body that is not a ``JobResult`` fails the record: the DLQ keeps it for inspection.
- A client with no connection is a success with nothing to do.
- A client's connections (at most ``MAX_CONNECTIONS_PER_CLIENT``, WsConnectFunction closes the
  oldest beyond it) are posted to concurrently, each with short timeouts: a slow or failing
  connection costs its own record (and, FIFO, the records after it of the same client), never
  the batch's other clients, and never the function's whole timeout.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from result_push_settings import ResultPushSettings

from pipeline_common.contracts.jobs import JobResult
from pipeline_common.http import deliverable
from pipeline_common.observability import logger, metrics
from pipeline_common.tables.connections import connection_ids_of, remove_connection
from pipeline_common.websocket_stage import management_client

# Connections posted to at once (a client has at most MAX_CONNECTIONS_PER_CLIENT, default 5).
_MAX_PARALLEL_POSTS = 16


class PushFailed(RuntimeError):
    """At least one live connection could not be reached for a reason other than being gone."""


def push_result(
    *, body: str, now: datetime, settings: ResultPushSettings, queued_at_ms: int | None = None
) -> None:
    """``queued_at_ms``: when the result entered ResultsQueue (the record's ``SentTimestamp``),
    logged with the push so the hop from the worker's publish to the client can be timed."""
    result = JobResult.model_validate_json(body)
    payload = (
        deliverable(
            result,
            output_bucket=settings.output_bucket,
            expiry_seconds=settings.presign_expiry_seconds,
            now=now,
        )
        .model_dump_json(exclude_none=True)
        .encode()
    )

    connections = connection_ids_of(settings.connections_table, result.client_id)
    if not connections:
        logger.info("client offline; result stays in JobsTable", extra={"job_id": result.job_id})
        return

    api = management_client(settings.management_endpoint)
    with ThreadPoolExecutor(max_workers=min(len(connections), _MAX_PARALLEL_POSTS)) as pool:
        outcomes = list(pool.map(lambda c: _post(api, c, payload), connections))
    failures = 0
    for connection_id, outcome in zip(connections, outcomes, strict=True):
        if outcome == "gone":
            remove_connection(settings.connections_table, connection_id)
            metrics.add_metric(name="Disconnected", unit=MetricUnit.Count, value=1)
            logger.info("connection gone; removed", extra={"connection_id": connection_id})
        elif outcome == "failed":
            failures += 1
            metrics.add_metric(name="PushFailures", unit=MetricUnit.Count, value=1)
        else:
            metrics.add_metric(name="PushSuccess", unit=MetricUnit.Count, value=1)
    if failures:
        raise PushFailed(f"{failures} of {len(connections)} connections failed for {result.job_id}")
    logger.info(
        "result pushed",
        extra={
            "job_id": result.job_id,
            "connections": len(connections),
            "queued_at_ms": queued_at_ms,
            "handled_at_ms": round(now.timestamp() * 1000, 1),
            "pushed_at_ms": round(time.time() * 1000, 1),
        },
    )


def _post(api: Any, connection_id: str, payload: bytes) -> str:
    """``sent``, ``gone`` or ``failed`` (logged); runs on the pool's threads."""
    try:
        api.post_to_connection(ConnectionId=connection_id, Data=payload)
    except api.exceptions.GoneException:
        return "gone"
    except (ClientError, BotoCoreError):
        logger.exception("push failed", extra={"connection_id": connection_id})
        return "failed"
    return "sent"
