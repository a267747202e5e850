"""``ClientsTable``'s record and the one question every reader asks of it: is this a live client
of this user?

The provisioner writes the rows; whoever acts on a client for a user (the provisioner's ticket
and delete routes, the WebSocket authorizer, ``$connect``) asks ``live_client_of``, so "another
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
        def text(name: str) -> str | None:
            value = item.get(name, {}).get("S")
            return str(value) if value is not None else None

        return cls(
            client_id=item["client_id"]["S"],
            owner=text("owner"),
            delivery=text("delivery") or "push",
            created_at=text("created_at") or "",
            expires_at=int(item.get("ttl", {}).get("N", "0")),
            queue_url=text("queue_url"),
            subscription_arn=text("subscription_arn"),
            deleted_at=text("deleted_at"),
        )

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
