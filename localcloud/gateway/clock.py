"""Timestamps and identifiers in the formats API Gateway puts in its events and headers."""

from __future__ import annotations

import secrets
import string
import time
import uuid
from datetime import UTC, datetime

_ALPHABET = string.ascii_letters + string.digits
# strftime's %b follows the locale; API Gateway's requestTime is always English.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def request_time(epoch_ms: int) -> str:
    """``09/Apr/2015:12:34:56 +0000``: the CLF timestamp of ``requestContext.requestTime``."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return (
        f"{moment.day:02d}/{_MONTHS[moment.month - 1]}/{moment.year}:"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} +0000"
    )


def iso8601(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def request_id() -> str:
    return str(uuid.uuid4())


def short_id() -> str:
    """``L0SM9cOFvHcCIhw=``: the shape of connection, message and extended request ids.

    Only letters and digits before the padding, so an id is always one URL path segment.
    """
    return "".join(secrets.choice(_ALPHABET) for _ in range(15)) + "="


def trace_header() -> str:
    return f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}"
