"""``POST /clients/{client_id}/tickets`` against moto: a fresh one-time ticket for one of the
caller's live clients; another user's, an unknown or an expired client is the same 404."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import ModuleType

import pytest

from pipeline_common import tickets
from tests.support.api_aws import (
    SAMPLE_CLIENT_ID,
    FakeLambdaContext,
    body_of,
    create_provisioner_stack,
    load_event,
    put_client,
    table_items,
)
from tests.support.functions import load_function
from tests.support.tenancy import ALICE, BOB, CAROL_ADMIN, as_user, without_claims

NOW = datetime(2026, 1, 19, 9, 15, 32, tzinfo=UTC)


@pytest.fixture
def provisioner(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The provisioner at ``NOW``, with Alice's sample client in ClientsTable."""
    for name, value in create_provisioner_stack().items():
        monkeypatch.setenv(name, value)
    put_client("ClientsTable", SAMPLE_CLIENT_ID, owner=ALICE.sub)
    fn = load_function("provisioner")
    monkeypatch.setattr(fn, "utc_now", lambda: NOW)
    return fn


def mint(provisioner: ModuleType, event: dict) -> dict:
    return provisioner.lambda_handler(event, FakeLambdaContext())


def test_the_owner_gets_a_one_minute_ticket_for_their_client(provisioner):
    # When Alice asks for a ticket for her client
    response = mint(provisioner, load_event("provisioner_create_ticket"))

    # Then she gets one, valid 60 s, stored only as its hash and bound to her and the client
    assert response["statusCode"] == 201
    issued = body_of(response)
    assert issued["client_id"] == SAMPLE_CLIENT_ID
    assert tickets.is_well_formed(issued["ticket"])
    assert datetime.fromisoformat(issued["expires_at"]) == NOW.replace(microsecond=0) + timedelta(
        seconds=60
    )
    [stored] = table_items("TicketsTable")
    assert stored["ticket_hash"]["S"] == tickets.ticket_hash(issued["ticket"])
    assert stored["client_id"]["S"] == SAMPLE_CLIENT_ID
    assert stored["owner"]["S"] == ALICE.sub


def test_every_ticket_is_new(provisioner):
    # When Alice asks twice
    first = body_of(mint(provisioner, load_event("provisioner_create_ticket")))
    second = body_of(mint(provisioner, load_event("provisioner_create_ticket")))

    # Then the tickets differ and both are stored
    assert first["ticket"] != second["ticket"]
    assert len(table_items("TicketsTable")) == 2


@pytest.mark.parametrize("user", [BOB, CAROL_ADMIN], ids=["another-user", "an-admin"])
def test_someone_elses_client_is_404_and_mints_nothing(provisioner, user):
    # When Bob, or an admin, asks for a ticket for Alice's client
    response = mint(provisioner, as_user(load_event("provisioner_create_ticket"), user))

    # Then the answer is the same 404 as for a client that does not exist
    assert response["statusCode"] == 404
    assert body_of(response)["error"]["code"] == "not_found"
    assert table_items("TicketsTable") == []


def test_an_unknown_client_is_the_same_404(provisioner):
    # Given a client id nobody has
    event = load_event("provisioner_create_ticket")
    other = "0" * 32
    event["path"] = f"/clients/{other}/tickets"
    event["pathParameters"] = {"client_id": other}

    # When Alice asks for a ticket for it
    response = mint(provisioner, event)

    # Then it is the same 404, word for word
    assert response["statusCode"] == 404
    refused_for_bob = mint(provisioner, as_user(load_event("provisioner_create_ticket"), BOB))
    assert body_of(response) == body_of(refused_for_bob)
    assert table_items("TicketsTable") == []


def test_an_expired_client_is_404(provisioner):
    # Given Alice's client expired a second ago (the TTL sweep has not removed it yet)
    put_client("ClientsTable", SAMPLE_CLIENT_ID, ttl=int(NOW.timestamp()) - 1)

    # When she asks for a ticket for it
    response = mint(provisioner, load_event("provisioner_create_ticket"))

    # Then it is 404 and nothing is minted
    assert response["statusCode"] == 404
    assert table_items("TicketsTable") == []


def test_a_malformed_client_id_is_404(provisioner):
    # Given a path parameter that is no client id at all
    event = load_event("provisioner_create_ticket")
    event["path"] = "/clients/..%2F..%2Fadmin/tickets"
    event["pathParameters"] = {"client_id": "../../admin"}

    # When it is sent, then nothing is looked up or minted: a plain 404
    assert mint(provisioner, event)["statusCode"] == 404
    assert table_items("TicketsTable") == []


def test_no_verified_user_is_401(provisioner):
    # When the request carries no authorizer claims
    response = mint(provisioner, without_claims(load_event("provisioner_create_ticket")))

    # Then it is refused and nothing is minted
    assert response["statusCode"] == 401
    assert table_items("TicketsTable") == []


def test_a_ticket_that_cannot_be_stored_is_503(provisioner, monkeypatch):
    # Given a tickets table that does not exist
    monkeypatch.setattr(
        provisioner,
        "settings",
        provisioner.settings.model_copy(update={"tickets_table": "MissingTicketsTable"}),
    )

    # When Alice asks for a ticket, then she is told to retry, and is handed nothing
    response = mint(provisioner, load_event("provisioner_create_ticket"))

    assert response["statusCode"] == 503
    assert "ticket" not in body_of(response)
