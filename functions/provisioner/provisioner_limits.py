"""The per-user limits on clients, checked before anything is created (so a 429 leaves nothing).

Both are counted on ClientsTable's ``owner-index`` (HASH ``owner``, RANGE ``created_at``):
- ``MAX_CLIENTS_PER_USER``: the caller's clients whose ``ttl`` is still ahead;
- ``MAX_CLIENT_CREATIONS_PER_MINUTE``: the caller's clients created in the last 60 s.

The index is eventually consistent and the check is not a lock, so a burst of simultaneous
requests from one user can pass it together and overshoot by at most that burst (which the
API's own throttling bounds). A client deleted within the minute no longer counts toward the
rate: deleting costs a request too, and the cap still holds.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from provisioner_settings import ProvisionerSettings

from pipeline_common import aws
from pipeline_common.client_records import OWNER_INDEX
from pipeline_common.http import TooManyRequests

RATE_WINDOW = timedelta(seconds=60)


def created_at_stamp(moment: datetime) -> str:
    """``created_at`` as written and as compared: fixed-width ISO-8601 UTC, so it sorts as text."""
    return moment.isoformat(timespec="microseconds")


def enforce_client_limits(*, owner: str, now: datetime, settings: ProvisionerSettings) -> None:
    """Raise ``TooManyRequests`` naming the limit the caller reached; return if none."""
    cap = settings.max_clients_per_user
    if _count(owner, live_at=now, stop_at=cap, settings=settings) >= cap:
        raise TooManyRequests(
            f"you already hold {cap} live clients, the most one user may hold "
            f"(MAX_CLIENTS_PER_USER); delete one with DELETE /clients/{{client_id}} first"
        )
    rate = settings.max_client_creations_per_minute
    if _count(owner, created_since=now - RATE_WINDOW, stop_at=rate, settings=settings) >= rate:
        raise TooManyRequests(
            f"you created {rate} clients in the last 60 s, the most one user may create per "
            f"minute (MAX_CLIENT_CREATIONS_PER_MINUTE); retry in a minute"
        )


def _count(
    owner: str,
    *,
    stop_at: int,
    settings: ProvisionerSettings,
    live_at: datetime | None = None,
    created_since: datetime | None = None,
) -> int:
    """How many of ``owner``'s clients match, counting only as far as ``stop_at``."""
    query: dict[str, Any] = {
        "TableName": settings.clients_table,
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
        query["FilterExpression"] = "#ttl > :now"
        query["ExpressionAttributeNames"]["#ttl"] = "ttl"
        query["ExpressionAttributeValues"][":now"] = {"N": str(int(live_at.timestamp()))}
    counted = 0
    while True:
        page = aws.client("dynamodb").query(**query)
        counted += int(page.get("Count", 0))
        if counted >= stop_at or "LastEvaluatedKey" not in page:
            return counted
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
