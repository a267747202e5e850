"""ConnectionsTable: one row per live WebSocket connection, found by its client through
``client_id-index``.

``$connect`` writes the row (``put_connection``); ``$disconnect``, a push that finds the socket
gone and a client's teardown delete it (``remove_connection``); the push and the teardown list a
client's connections (``connection_ids_of``). ``ttl`` removes what no ``$disconnect`` ever
deleted (API Gateway's ``$disconnect`` is best effort).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline_common import aws
from pipeline_common.tables.attributes import text

#: A client's connections (HASH ``client_id``, all attributes).
CLIENT_INDEX = "client_id-index"


@dataclass(frozen=True, slots=True)
class ConnectionRow:
    connection_id: str
    client_id: str
    owner: str
    connected_at: str  # ISO-8601: a client's oldest connections are closed first
    ttl: int

    def to_item(self) -> dict[str, Any]:
        return {
            "connection_id": {"S": self.connection_id},
            "client_id": {"S": self.client_id},
            "owner": {"S": self.owner},
            "connected_at": {"S": self.connected_at},
            "ttl": {"N": str(self.ttl)},
        }


def _db(dynamodb: Any | None) -> Any:
    return dynamodb or aws.client("dynamodb")


def put_connection(table: str, row: ConnectionRow, *, dynamodb: Any | None = None) -> None:
    _db(dynamodb).put_item(TableName=table, Item=row.to_item())


def remove_connection(table: str, connection_id: str, *, dynamodb: Any | None = None) -> bool:
    """Forget ``connection_id``; True if there was a row to delete."""
    old = _db(dynamodb).delete_item(
        TableName=table, Key={"connection_id": {"S": connection_id}}, ReturnValues="ALL_OLD"
    )
    return "Attributes" in old


def connection_ids_of(table: str, client_id: str, *, dynamodb: Any | None = None) -> list[str]:
    """The client's connection ids, oldest first (by ``connected_at``, then id)."""
    pages = (
        _db(dynamodb)
        .get_paginator("query")
        .paginate(
            TableName=table,
            IndexName=CLIENT_INDEX,
            KeyConditionExpression="client_id = :c",
            ExpressionAttributeValues={":c": {"S": client_id}},
            ProjectionExpression="connection_id, connected_at",
        )
    )
    rows = [
        (text(item, "connected_at") or "", text(item, "connection_id") or "")
        for page in pages
        for item in page.get("Items", [])
    ]
    return [connection_id for _, connection_id in sorted(rows)]
