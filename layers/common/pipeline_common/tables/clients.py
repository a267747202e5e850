"""ClientsTable: one row per client, its record, and the one question every reader asks of it:
is this a live client of this user?

The provisioner writes the rows (``put_new_client``; ``retire_client`` turns one into a tombstone
on ``DELETE /clients``; ``count_clients_of`` reads ``owner-index`` for the per-user limits);
whoever acts on a client for a user (the provisioner's ticket and delete routes, the WebSocket
authorizer, ``$connect``) asks ``live_client_of``, so "another
user's", "unknown" and "expired" are one answer (``None``, which the REST functions turn into the
same 404) and no caller can tell them apart. DynamoDB's TTL sweep runs late, so expiry is
checked here, on ``ttl``, and never left to the sweep.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline_common import aws
from pipeline_common.contracts.jobs import JOB_ID_PATTERN
from pipeline_common.tables.attributes import number, text

#: A user's clients by ``created_at`` (all attributes): the per-user cap and creation rate.
OWNER_INDEX = "owner-index"
_CLIENT_ID = re.compile(JOB_ID_PATTERN)


@dataclass(frozen=True, slots=True)
class ClientRecord:
    client_id: str
    owner: str | None
    delivery: str
    created_at: str
    expires_at: int
    queue_url: str | None = None
    subscription_arn: str | None = None
    # Set by DELETE /clients: the row stays (counting toward the creation rate) but is dead.
    deleted_at: str | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> ClientRecord:
        return cls(
            client_id=item["client_id"]["S"],
            owner=text(item, "owner"),
            delivery=text(item, "delivery") or "push",
            created_at=text(item, "created_at") or "",
            expires_at=number(item, "ttl") or 0,
            queue_url=text(item, "queue_url"),
            subscription_arn=text(item, "subscription_arn"),
            deleted_at=text(item, "deleted_at"),
        )

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "client_id": {"S": self.client_id},
            "delivery": {"S": self.delivery},
            "created_at": {"S": self.created_at},
            "ttl": {"N": str(self.expires_at)},
        }
        optional = {
            "owner": self.owner,
            "queue_url": self.queue_url,
            "subscription_arn": self.subscription_arn,
            "deleted_at": self.deleted_at,
        }
        item.update({name: {"S": value} for name, value in optional.items() if value is not None})
        return item

    def is_live(self, now: datetime) -> bool:
        return self.deleted_at is None and self.expires_at > now.timestamp()


def is_client_id(value: object) -> bool:
    return isinstance(value, str) and _CLIENT_ID.fullmatch(value) is not None


def get_client(table: str, client_id: str) -> ClientRecord | None:
    """The row of ``client_id`` (read consistently: a client deleted a moment ago is gone)."""
    if not is_client_id(client_id):
        return None
    found = aws.client("dynamodb").get_item(
        TableName=table, Key={"client_id": {"S": client_id}}, ConsistentRead=True
    )
    item = found.get("Item")
    return ClientRecord.from_item(item) if item else None


def live_client_of(table: str, client_id: str, *, owner: str, now: datetime) -> ClientRecord | None:
    """``client_id``'s record if it exists, has not expired and belongs to ``owner``; else None.

    Ownership is exact: an admin acts on their own clients only (a client's socket and its
    ``GET /results`` feed carry one user's results).
    """
    record = get_client(table, client_id)
    if record is None or record.owner != owner or not record.is_live(now):
        return None
    return record


def created_at_stamp(moment: datetime) -> str:
    """``created_at`` as written and as compared: fixed-width ISO-8601 UTC, so it sorts as text."""
    return moment.isoformat(timespec="microseconds")


def put_new_client(table: str, record: ClientRecord) -> None:
    """Write a new client's row; a taken ``client_id`` is refused (``ClientError``)."""
    aws.client("dynamodb").put_item(
        TableName=table,
        Item=record.to_item(),
        ConditionExpression="attribute_not_exists(client_id)",
    )


def remove_client_row(table: str, client_id: str) -> None:
    aws.client("dynamodb").delete_item(TableName=table, Key={"client_id": {"S": client_id}})


def retire_client(table: str, client_id: str, *, owner: str, now: datetime, expires: int) -> None:
    """Turn ``owner``'s client row into a tombstone (``deleted_at``) that TTL removes at
    ``expires``; refused (``ClientError``) when it is not ``owner``'s or already retired."""
    aws.client("dynamodb").update_item(
        TableName=table,
        Key={"client_id": {"S": client_id}},
        UpdateExpression="SET deleted_at = :now, #ttl = :expires",
        ConditionExpression="#owner = :owner AND attribute_not_exists(deleted_at)",
        ExpressionAttributeNames={"#owner": "owner", "#ttl": "ttl"},
        ExpressionAttributeValues={
            ":owner": {"S": owner},
            ":now": {"S": now.isoformat(timespec="microseconds")},
            ":expires": {"N": str(expires)},
        },
    )


def count_clients_of(
    table: str,
    owner: str,
    *,
    stop_at: int,
    live_at: datetime | None = None,
    created_since: datetime | None = None,
) -> int:
    """How many of ``owner``'s clients (live at ``live_at``, created since ``created_since``)
    there are, counting on ``owner-index`` only as far as ``stop_at``."""
    query: dict[str, Any] = {
        "TableName": table,
        "IndexName": OWNER_INDEX,
        "Select": "COUNT",
        "KeyConditionExpression": "#owner = :owner",
        "ExpressionAttributeNames": {"#owner": "owner"},
        "ExpressionAttributeValues": {":owner": {"S": owner}},
    }
    if created_since is not None:
        query["KeyConditionExpression"] += " AND created_at >= :since"
        query["ExpressionAttributeValues"][":since"] = {"S": created_at_stamp(created_since)}
    if live_at is not None:
        query["FilterExpression"] = "#ttl > :now AND attribute_not_exists(deleted_at)"
        query["ExpressionAttributeNames"]["#ttl"] = "ttl"
        query["ExpressionAttributeValues"][":now"] = {"N": str(int(live_at.timestamp()))}
    counted = 0
    while True:
        page = aws.client("dynamodb").query(**query)
        counted += int(page.get("Count", 0))
        if counted >= stop_at or "LastEvaluatedKey" not in page:
            return counted
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
