"""Long-poll a polling client's own queue, return its results with fresh links, and delete exactly
what was returned.

A message that is not a ``JobResult`` for this client can never be returned; it is logged with its
message id and deleted so it does not block its FIFO group forever (the job itself is still in
JobsTable). Its count is reported as ``discarded``. A message whose delete fails comes back later:
clients de-duplicate on ``job_id``.

Only the client's owner may poll: reading deletes, so not even an admin drains another user's
results. A missing, expired or foreign client is the same 404 (no probing of client ids).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, ValidationError
from results_proxy_settings import ResultsProxySettings

from pipeline_common import aws
from pipeline_common.client_records import live_client_of
from pipeline_common.contracts.clients import DeliveredResult, PolledResults
from pipeline_common.contracts.common import Contract
from pipeline_common.contracts.jobs import JOB_ID_PATTERN, JobResult
from pipeline_common.http import InvalidRequest, NotFound, deliverable, describe, field_of
from pipeline_common.identity import Caller
from pipeline_common.observability import logger


class PollParameters(Contract):
    client_id: str = Field(pattern=JOB_ID_PATTERN)
    wait_seconds: int = Field(ge=0, le=20)
    max_results: int = Field(default=10, ge=1, le=10)

    @classmethod
    def from_query(cls, query: dict[str, str], *, max_wait_seconds: int) -> PollParameters:
        """``?client_id=&wait_seconds=&max_results=``; waiting never exceeds the configured cap."""
        if "client_id" not in query:
            raise InvalidRequest("the client_id query parameter is required", field="client_id")
        # Other parameters (a browser's cache buster, say) are ignored, not refused.
        known = {key: value for key, value in query.items() if key in cls.model_fields}
        try:
            parameters = cls.model_validate({"wait_seconds": max_wait_seconds, **known})
        except ValidationError as exc:
            raise InvalidRequest(describe(exc), field=field_of(exc)) from exc
        if parameters.wait_seconds > max_wait_seconds:
            return parameters.model_copy(update={"wait_seconds": max_wait_seconds})
        return parameters


def poll_results(
    *, parameters: PollParameters, caller: Caller, now: datetime, settings: ResultsProxySettings
) -> PolledResults:
    queue_url = _queue_of(parameters.client_id, caller=caller, now=now, settings=settings)
    received = aws.client("sqs").receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=parameters.max_results,
        WaitTimeSeconds=parameters.wait_seconds,
    )
    messages: list[dict[str, Any]] = received.get("Messages", [])
    results: list[DeliveredResult] = []
    discarded = 0
    for message in messages:
        result = _as_result(message, client_id=parameters.client_id)
        if result is None:
            discarded += 1
            continue
        results.append(
            deliverable(
                result,
                output_bucket=settings.output_bucket,
                expiry_seconds=settings.presign_expiry_seconds,
                now=now,
            )
        )
    _delete(queue_url, messages)
    logger.info(
        "results delivered",
        extra={"client_id": parameters.client_id, "count": len(results), "discarded": discarded},
    )
    return PolledResults(results=results, discarded=discarded)


def _queue_of(
    client_id: str, *, caller: Caller, now: datetime, settings: ResultsProxySettings
) -> str:
    client = live_client_of(settings.clients_table, client_id, owner=caller.owner_id, now=now)
    if client is None:
        raise NotFound("unknown client_id", field="client_id", code="unknown_client")
    if client.delivery != "poll" or not client.queue_url:
        raise InvalidRequest(
            "this client receives results over the WebSocket, not by polling; "
            "GET /jobs/{job_id} has every result",
            field="client_id",
            code="not_a_polling_client",
        )
    return client.queue_url


def _as_result(message: dict[str, Any], *, client_id: str) -> JobResult | None:
    try:
        result = JobResult.model_validate_json(message["Body"])
    except ValidationError as exc:
        logger.error(
            "discarding a message that is not a JobResult",
            extra={"message_id": message.get("MessageId"), "error": describe(exc)},
        )
        return None
    if result.client_id != client_id:
        logger.error(
            "discarding another client's result",
            extra={"message_id": message.get("MessageId"), "job_id": result.job_id},
        )
        return None
    return result


def _delete(queue_url: str, messages: list[dict[str, Any]]) -> None:
    if not messages:
        return
    response = aws.client("sqs").delete_message_batch(
        QueueUrl=queue_url,
        Entries=[
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
            for index, message in enumerate(messages)
        ],
    )
    for failure in response.get("Failed", []):
        logger.warning("delete failed; the result will be delivered again", extra=failure)
