"""Delete one of the caller's clients and everything that serves it.

Order matters, and every step is idempotent, so a failed request is finished by its retry:
1. close every live WebSocket connection of the client (``DeleteConnection`` on the stage's
   @connections API; ``GoneException`` means it was already closed) and delete its row;
2. a poll client provisioned before poll mode read JobsTable (its row has ``queue_url`` and
   ``subscription_arn``): remove its subscription, then its queue (already gone counts as
   done). Clients provisioned since have neither, and this step does nothing for them;
3. retire the client row, last, so that until everything above succeeded a retry still finds
   the client (and its owner) instead of answering 404 with a queue left behind. The row stays
   as a tombstone (``deleted_at``, no longer live to any reader) until the creation-rate window
   has passed, then expires: a deleted client still counts toward
   ``MAX_CLIENT_CREATIONS_PER_MINUTE``, so create-and-delete in a loop cannot bypass the rate;
4. close connections again: a ticket minted before the delete may have opened one while steps
   1-3 ran. After step 3 the authorizer and ``$connect`` refuse the client, so none can follow.

The steps themselves are ``pipeline_common.client_teardown``'s, shared with ClientReaperFunction,
which runs them again for the row's REMOVE on ClientsTable's stream (finding nothing left to do)
and for every client that expires instead.
"""

from __future__ import annotations

from datetime import datetime

from botocore.exceptions import BotoCoreError, ClientError
from provisioner_limits import RATE_WINDOW
from provisioner_settings import ProvisionerSettings

from pipeline_common import client_teardown
from pipeline_common.client_teardown import ConnectionsNotClosed, remove_delivery
from pipeline_common.http import NotFound, ServiceUnavailable
from pipeline_common.observability import logger
from pipeline_common.tables.attributes import is_refusal
from pipeline_common.tables.clients import live_client_of, retire_client
from pipeline_common.websocket_stage import management_client


def delete_client(
    *, owner: str, client_id: str, now: datetime, settings: ProvisionerSettings
) -> None:
    """Delete the caller's live client; 404 for anyone else's (admins included), or none."""
    record = live_client_of(settings.clients_table, client_id, owner=owner, now=now)
    if record is None:
        raise NotFound("no such client", field="client_id")
    closed = 0
    try:
        closed = close_connections(client_id, settings=settings)
        remove_delivery(record)
        _retire(record.client_id, owner=owner, now=now, settings=settings)
    except (ClientError, BotoCoreError, ConnectionsNotClosed) as exc:
        if is_refusal(exc):
            # A concurrent DELETE of the same client finished first: the outcome is the same.
            logger.info("client already deleted", extra={"client_id": client_id})
        else:
            logger.exception("client deletion incomplete", extra={"client_id": client_id})
            raise ServiceUnavailable("the client could not be deleted completely; retry") from exc
    try:
        closed += close_connections(client_id, settings=settings)
    except (ClientError, BotoCoreError, ConnectionsNotClosed):
        # The client is gone, so nothing is pushed to such a connection; the reaper (on the
        # row's REMOVE) tries again, and the connection row's own TTL sweeps it in the end.
        logger.exception("a late connection could not be closed", extra={"client_id": client_id})
    logger.info(
        "client deleted",
        extra={"client_id": client_id, "owner": owner, "connections_closed": closed},
    )


def close_connections(client_id: str, *, settings: ProvisionerSettings) -> int:
    """Close and forget every connection of ``client_id``; how many there were."""
    return client_teardown.close_connections(
        client_id,
        connections_table=settings.connections_table,
        api=management_client(settings.management_endpoint),
    )


def _retire(client_id: str, *, owner: str, now: datetime, settings: ProvisionerSettings) -> None:
    """Turn the client row into a tombstone that TTL removes once the rate window is over."""
    expires = int((now + RATE_WINDOW).timestamp()) + 1
    retire_client(settings.clients_table, client_id, owner=owner, now=now, expires=expires)
