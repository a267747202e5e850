"""Remember a live connection: ``connection_id`` -> ``client_id``, with a TTL.

A client may hold several connections (tabs, devices, a reconnect racing its old socket); each
gets its own item and the ``client_id-index`` finds them all when a result is pushed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ws_connect_settings import WsConnectSettings

from pipeline_common import aws
from pipeline_common.observability import logger


def register_connection(
    *,
    connection_id: str,
    client_id: str | None,
    now: datetime,
    settings: WsConnectSettings,
) -> dict:
    if not client_id:
        # Only reachable if the route were deployed without the authorizer: refuse, loudly.
        logger.error(
            "connect without an authorized client_id", extra={"connection_id": connection_id}
        )
        return {"statusCode": 403, "body": "Forbidden"}
    expires = now + timedelta(seconds=settings.connection_ttl_seconds)
    aws.client("dynamodb").put_item(
        TableName=settings.connections_table,
        Item={
            "connection_id": {"S": connection_id},
            "client_id": {"S": client_id},
            "connected_at": {"S": now.isoformat()},
            "ttl": {"N": str(int(expires.timestamp()))},
        },
    )
    logger.info("connected", extra={"connection_id": connection_id, "client_id": client_id})
    return {"statusCode": 200, "body": "Connected"}
