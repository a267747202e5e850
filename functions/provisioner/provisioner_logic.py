"""Create a client for the caller: an id bound to the caller (``owner``) and a first one-time
WebSocket ticket; mint further tickets for a caller's live client.

Nothing else is created, for push and poll clients alike: a poll client reads its results with
``GET /results`` from JobsTable (``client-results-index``), so it needs no queue and no
subscription on ``ResultsTopic`` (a FIFO topic takes few subscriptions; see README, "Result
delivery"), and an expired client leaves nothing but its row, which TTL removes. Clients
provisioned before this kept a queue and a subscription; DELETE and ClientReaperFunction still
remove those (``pipeline_common.client_teardown.remove_delivery``).

The per-user limits are checked before anything exists, and if a later step fails, the row
already written is removed: a refused or failed request leaves nothing behind.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError
from provisioner_limits import enforce_client_limits
from provisioner_settings import ProvisionerSettings

from pipeline_common import tickets
from pipeline_common.contracts.clients import CreateClientResponse, Delivery, TicketResponse
from pipeline_common.http import NotFound, ServiceUnavailable
from pipeline_common.observability import logger
from pipeline_common.tables.clients import (
    ClientRecord,
    created_at_stamp,
    live_client_of,
    put_new_client,
    remove_client_row,
)


def provision_client(
    *, owner: str, delivery: Delivery, now: datetime, settings: ProvisionerSettings
) -> CreateClientResponse:
    enforce_client_limits(owner=owner, now=now, settings=settings)
    client_id = uuid.uuid4().hex
    record = ClientRecord(
        client_id=client_id,
        owner=owner,
        delivery=delivery,
        created_at=created_at_stamp(now),
        expires_at=int((now + timedelta(days=settings.client_ttl_days)).timestamp()),
    )
    written = False
    try:
        put_new_client(settings.clients_table, record)
        written = True
        ticket = tickets.mint(
            table=settings.tickets_table,
            client_id=client_id,
            owner=owner,
            now=now,
            ttl_seconds=settings.ticket_ttl_seconds,
        )
    except (ClientError, BotoCoreError) as exc:
        logger.exception("provisioning failed; rolling back", extra={"client_id": client_id})
        if written:
            _remove_row(client_id, settings=settings)
        raise ServiceUnavailable("the client could not be provisioned; retry") from exc

    logger.info(
        "client provisioned",
        extra={
            "client_id": client_id,
            "owner": owner,
            "delivery": delivery,
            "ticket": tickets.fingerprint(ticket.value),
        },
    )
    return CreateClientResponse(
        client_id=client_id,
        delivery=delivery,
        ticket=ticket.value,
        ticket_expires_at=datetime.fromtimestamp(ticket.expires_at, UTC),
        websocket_url=settings.websocket_url,
    )


def issue_ticket(
    *, owner: str, client_id: str, now: datetime, settings: ProvisionerSettings
) -> TicketResponse:
    """A new one-time ticket for the caller's live client; 404 for anyone else's, or none."""
    if live_client_of(settings.clients_table, client_id, owner=owner, now=now) is None:
        raise NotFound("no such client", field="client_id")
    try:
        ticket = tickets.mint(
            table=settings.tickets_table,
            client_id=client_id,
            owner=owner,
            now=now,
            ttl_seconds=settings.ticket_ttl_seconds,
        )
    except (ClientError, BotoCoreError) as exc:
        logger.exception("ticket not stored", extra={"client_id": client_id})
        raise ServiceUnavailable("no ticket could be issued; retry") from exc
    logger.info(
        "ticket issued",
        extra={"client_id": client_id, "ticket": tickets.fingerprint(ticket.value)},
    )
    return TicketResponse(
        ticket=ticket.value,
        expires_at=datetime.fromtimestamp(ticket.expires_at, UTC),
        client_id=client_id,
    )


def _remove_row(client_id: str, *, settings: ProvisionerSettings) -> None:
    """Undo the client row of a provisioning that failed after writing it."""
    try:
        remove_client_row(settings.clients_table, client_id)
    except (ClientError, BotoCoreError):
        # The row outlives the failure only until its TTL; its owner never learnt its id.
        logger.exception(
            "rollback incomplete", extra={"left_behind": "client row", "client_id": client_id}
        )
