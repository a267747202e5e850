"""One-time WebSocket tickets: minted by the provisioner for one of the caller's live clients,
consumed by the ``$connect`` authorizer.

A ticket is 32 random bytes (``secrets.token_urlsafe``: 43 URL-safe characters, so it travels in
the ``$connect`` query string as is) that is valid for ``TICKET_TTL_SECONDS`` (60 s). Nothing is
signed, so there is no key to leak or rotate. ``TicketsTable`` holds only the ticket's SHA-256
(``ticket_hash``): reading the table yields no usable ticket. Logs carry at most
``fingerprint(ticket)``, a prefix of that hash, never the ticket.

Consuming is one conditional ``DeleteItem`` that returns the old item: of two concurrent uses
exactly one gets the item back and the other fails the condition, and an expired ticket fails it
too, whether or not DynamoDB's TTL sweep (which runs late) has removed it yet.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from botocore.exceptions import ClientError

from pipeline_common import aws
from pipeline_common.tables.attributes import is_refusal

TICKET_BYTES = 32
# token_urlsafe(32) is exactly 43 characters of the URL-safe base64 alphabet, unpadded.
TICKET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
DEFAULT_TICKET_TTL_SECONDS = 60
_FINGERPRINT_CHARS = 12


@dataclass(frozen=True, slots=True)
class IssuedTicket:
    """A ticket as handed to its user, once: ``value`` exists nowhere else."""

    value: str
    client_id: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class ConsumedTicket:
    """What a spent ticket was for: the client it opens and the user who minted it."""

    client_id: str
    owner: str
    expires_at: int


def is_well_formed(value: object) -> bool:
    """Whether ``value`` could be a ticket at all (checked before any table is touched)."""
    return isinstance(value, str) and TICKET_PATTERN.fullmatch(value) is not None


def ticket_hash(value: str) -> str:
    return hashlib.sha256(value.encode("ascii")).hexdigest()


def fingerprint(value: str) -> str:
    """A short prefix of the ticket's hash: enough to correlate log lines, useless to replay."""
    return ticket_hash(value)[:_FINGERPRINT_CHARS]


def mint(
    *, table: str, client_id: str, owner: str, now: datetime, ttl_seconds: int
) -> IssuedTicket:
    """Store a new ticket for ``client_id`` (owned by ``owner``) and return its value."""
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    value = secrets.token_urlsafe(TICKET_BYTES)
    expires_at = int(now.timestamp()) + ttl_seconds
    aws.client("dynamodb").put_item(
        TableName=table,
        Item={
            "ticket_hash": {"S": ticket_hash(value)},
            "client_id": {"S": client_id},
            "owner": {"S": owner},
            "expires_at": {"N": str(expires_at)},
            "ttl": {"N": str(expires_at)},
        },
        # 256 random bits never collide; the condition only makes "never overwrite" explicit.
        ConditionExpression="attribute_not_exists(ticket_hash)",
    )
    return IssuedTicket(value=value, client_id=client_id, expires_at=expires_at)


def consume(value: str, *, table: str, now: datetime) -> ConsumedTicket | None:
    """Spend ``value``: what it was for, or ``None`` if it is unknown, spent or expired.

    A ticket that was accepted once is gone: any later call answers None.
    """
    if not is_well_formed(value):
        return None
    try:
        old = aws.client("dynamodb").delete_item(
            TableName=table,
            Key={"ticket_hash": {"S": ticket_hash(value)}},
            ConditionExpression="attribute_exists(ticket_hash) AND expires_at >= :now",
            ExpressionAttributeValues={":now": {"N": str(int(now.timestamp()))}},
            ReturnValues="ALL_OLD",
        )
    except ClientError as exc:
        if is_refusal(exc):  # unknown, expired or already used
            return None
        raise
    item = old.get("Attributes") or {}
    try:
        return ConsumedTicket(
            client_id=item["client_id"]["S"],
            owner=item["owner"]["S"],
            expires_at=int(item["expires_at"]["N"]),
        )
    except (KeyError, ValueError):
        # A row this module did not write: spent now, and worth nothing.
        return None
