"""Remember a live connection: ``connection_id`` -> ``client_id`` and ``owner``, with a TTL.

A client may hold several connections (tabs, devices, a reconnect racing its old socket); each
gets its own item and the ``client_id-index`` finds them all when a result is pushed or the
client is deleted. The row never outlives its client: its TTL is capped at the client's, and a
client deleted or expired between the authorizer and this call is refused here.

At most ``MAX_CONNECTIONS_PER_CLIENT`` connections per client: a new one beyond the cap closes
the oldest (``@connections`` DELETE), so a client that reconnects in a loop without closing cannot
pile up sockets that every result is posted to. Closing is best effort: a connection that cannot
be closed now is closed by the next connect, and its row's TTL sweeps it in the end.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError
from ws_connect_settings import WsConnectSettings

from pipeline_common.client_teardown import ConnectionsNotClosed, close_connection_ids
from pipeline_common.observability import logger
from pipeline_common.tables.clients import live_client_of
from pipeline_common.tables.connections import ConnectionRow, connection_ids_of, put_connection
from pipeline_common.websocket_stage import management_client

FORBIDDEN = {"statusCode": 403, "body": "Forbidden"}


def register_connection(
    *,
    connection_id: str,
    client_id: str | None,
    owner: str | None,
    now: datetime,
    settings: WsConnectSettings,
) -> dict:
    if not client_id or not owner:
        # Only reachable if the route were deployed without the authorizer: refuse, loudly.
        logger.error(
            "connect without an authorized client and owner", extra={"connection_id": connection_id}
        )
        return FORBIDDEN
    client = live_client_of(settings.clients_table, client_id, owner=owner, now=now)
    if client is None:
        logger.info(
            "connect refused: the client was deleted or has expired",
            extra={"connection_id": connection_id, "client_id": client_id},
        )
        return FORBIDDEN
    expires = min(
        int((now + timedelta(seconds=settings.connection_ttl_seconds)).timestamp()),
        client.expires_at,
    )
    put_connection(
        settings.connections_table,
        ConnectionRow(
            connection_id=connection_id,
            client_id=client_id,
            owner=owner,
            connected_at=now.isoformat(),
            ttl=expires,
        ),
    )
    logger.info("connected", extra={"connection_id": connection_id, "client_id": client_id})
    _close_the_oldest_beyond_the_cap(client_id, keep=connection_id, settings=settings)
    return {"statusCode": 200, "body": "Connected"}


def _close_the_oldest_beyond_the_cap(
    client_id: str, *, keep: str, settings: WsConnectSettings
) -> None:
    others = [c for c in connection_ids_of(settings.connections_table, client_id) if c != keep]
    excess = others[: max(0, len(others) + 1 - settings.max_connections_per_client)]
    if not excess:
        return
    try:
        close_connection_ids(
            excess,
            connections_table=settings.connections_table,
            api=management_client(settings.management_endpoint),
            client_id=client_id,
        )
    except (ClientError, BotoCoreError, ConnectionsNotClosed):
        logger.exception("oldest connections not closed", extra={"client_id": client_id})
        return
    logger.info(
        "oldest connections closed (cap reached)",
        extra={"client_id": client_id, "closed": len(excess)},
    )
