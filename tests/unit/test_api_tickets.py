"""pipeline_common.tickets without AWS: what a ticket looks like, what is stored, what is logged."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

import pytest

from pipeline_common import tickets

NOW = datetime(2026, 1, 19, 9, 16, 1, tzinfo=UTC)


def test_a_minted_value_is_well_formed_and_url_safe():
    # Given a value made the way mint makes one
    value = secrets.token_urlsafe(tickets.TICKET_BYTES)

    # Then it passes the format check and needs no escaping in a query string
    assert tickets.is_well_formed(value)
    assert len(value) == 43


@pytest.mark.parametrize(
    "value",
    [None, "", "short", "x" * 44, "a" * 42 + "=", "a" * 42 + "/", 12345, ["a" * 43]],
    ids=["none", "empty", "short", "long", "padding", "slash", "number", "list"],
)
def test_anything_else_is_not_a_ticket(value):
    assert not tickets.is_well_formed(value)


def test_only_the_sha256_is_stored_and_only_its_prefix_logged():
    # Given a ticket
    value = secrets.token_urlsafe(tickets.TICKET_BYTES)

    # Then the table key is its SHA-256 and the log fingerprint a 12-character prefix of that
    digest = hashlib.sha256(value.encode()).hexdigest()
    assert tickets.ticket_hash(value) == digest
    assert tickets.fingerprint(value) == digest[:12]
    assert value not in tickets.fingerprint(value)


def test_a_malformed_ticket_is_refused_before_any_table_is_touched(monkeypatch):
    # Given a client factory that fails the test if it is ever asked for
    def no_aws(service: str):
        raise AssertionError(f"{service} must not be called for a malformed ticket")

    monkeypatch.setattr(tickets.aws, "client", no_aws)

    # When a malformed ticket is consumed, then the answer is None and nothing was called
    assert tickets.consume("../../etc/passwd", table="TicketsTable", now=NOW) is None


def test_a_ticket_cannot_be_minted_with_no_lifetime():
    with pytest.raises(ValueError, match="ttl_seconds"):
        tickets.mint(table="TicketsTable", client_id="c" * 32, owner="o", now=NOW, ttl_seconds=0)
