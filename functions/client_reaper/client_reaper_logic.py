"""Tear down what served a client whose ClientsTable row was removed.

A row goes when DynamoDB's TTL expires it (the stream record's ``userIdentity`` is then
``{"type": "Service", "principalId": "dynamodb.amazonaws.com"}``) or when ``DELETE
/clients/{id}`` deletes it (no ``userIdentity``). Either way the reaper closes the client's live
WebSocket connections, deletes their rows and removes a legacy poll client's subscription and
queue (rows written before poll mode read JobsTable; new poll clients have neither),
with the steps ``DELETE`` itself runs (``pipeline_common.client_teardown``): after a DELETE they
find nothing left, after an expiry they are the only teardown there is. ``userIdentity`` is
logged, never relied on: both removals need the same teardown, and a record read some other way
(moto's own stream records, for one) may not carry it.

The row's old image (the stream's ``OLD_IMAGE`` view) says what to remove: a record without one
cannot be reaped and fails, so it is retried and then lands in ClientReaperFailureQueue, alarmed,
rather than being dropped with a queue left behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from client_reaper_settings import ClientReaperSettings

from pipeline_common.client_teardown import close_connections, remove_delivery
from pipeline_common.observability import logger, metrics
from pipeline_common.tables.clients import ClientRecord
from pipeline_common.websocket_stage import management_client

REMOVE = "REMOVE"
_TTL_DELETER = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}

RemovedBy = Literal["ttl", "delete"]


class IncompleteStreamRecord(ValueError):
    """A REMOVE record without the row's old image: nothing says which queue to delete."""


@dataclass(frozen=True, slots=True)
class Reaped:
    client_id: str
    removed_by: RemovedBy
    connections_closed: int
    queue_removed: bool


def removed_client(change: dict[str, Any]) -> ClientRecord:
    """The removed row, from a stream record's ``dynamodb.OldImage`` (DynamoDB JSON)."""
    image = (change.get("dynamodb") or {}).get("OldImage")
    if not image or "client_id" not in image:
        keys = (change.get("dynamodb") or {}).get("Keys")
        raise IncompleteStreamRecord(
            f"REMOVE of {keys} has no OldImage: ClientsTable's StreamViewType must be "
            "OLD_IMAGE or NEW_AND_OLD_IMAGES"
        )
    return ClientRecord.from_item(image)


def removed_by(change: dict[str, Any]) -> RemovedBy:
    """``ttl`` when DynamoDB's TTL process deleted the row, else ``delete`` (for the logs)."""
    identity = change.get("userIdentity") or {}
    matches = all(identity.get(k) == v for k, v in _TTL_DELETER.items())
    return "ttl" if matches else "delete"


def reap(*, change: dict[str, Any], settings: ClientReaperSettings) -> Reaped | None:
    """Tear down a removed client; None for a record that removes nothing (the event source's
    filter passes only REMOVE, so that is a direct invocation with another record)."""
    if change.get("eventName") != REMOVE:
        logger.info("not a removal; nothing to reap", extra={"event_name": change.get("eventName")})
        return None
    record = removed_client(change)
    closed = close_connections(
        record.client_id,
        connections_table=settings.connections_table,
        api=management_client(settings.management_endpoint),
    )
    remove_delivery(record)
    reaped = Reaped(
        client_id=record.client_id,
        removed_by=removed_by(change),
        connections_closed=closed,
        queue_removed=record.queue_url is not None,
    )
    metrics.add_metric(name="ClientsReaped", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ConnectionsClosed", unit=MetricUnit.Count, value=closed)
    logger.info(
        "client reaped",
        extra={
            "client_id": record.client_id,
            "owner": record.owner,
            "removed_by": reaped.removed_by,
            "connections_closed": closed,
            "queue_removed": reaped.queue_removed,
        },
    )
    return reaped
