"""WsAuthorizerFunction against moto's DynamoDB: the sample ``$connect`` authorizer events with
one-time tickets. A ticket opens one connection, once, within its minute, for a live client of
the user who minted it; everything else is a Deny (API Gateway answers 403), never an error."""

from __future__ import annotations

import json
import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from threading import Barrier, Lock
from types import ModuleType

import pytest
from moto.dynamodb.models import DynamoDBBackend

from pipeline_common import tickets
from tests.support.api_aws import (
    SAMPLE_CLIENT_ID,
    SAMPLE_TICKET,
    FakeLambdaContext,
    create_clients_table,
    create_tickets_table,
    load_event,
    put_client,
    put_ticket,
    table_items,
)
from tests.support.functions import load_function
from tests.support.tenancy import ALICE, BOB

NOW = datetime(2026, 1, 19, 9, 16, 1, tzinfo=UTC)
IN_A_MINUTE = int(NOW.timestamp()) + 60


@pytest.fixture
def authorizer(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The authorizer at ``NOW``, with Alice's live sample client."""
    monkeypatch.setenv("TICKETS_TABLE", create_tickets_table())
    monkeypatch.setenv("CLIENTS_TABLE", create_clients_table())
    put_client("ClientsTable", SAMPLE_CLIENT_ID, owner=ALICE.sub)
    fn = load_function("ws_authorizer")
    monkeypatch.setattr(fn, "utc_now", lambda: NOW)
    return fn


def decide(authorizer: ModuleType, event: dict | None = None) -> dict:
    return authorizer.lambda_handler(
        event or load_event("ws_authorizer_connect"), FakeLambdaContext()
    )


def effect_of(answer: dict) -> str:
    [statement] = answer["policyDocument"]["Statement"]
    return str(statement["Effect"])


def test_a_fresh_ticket_is_allowed_with_the_client_and_owner_in_context(authorizer):
    # Given the sample ticket, minted for Alice's client a moment ago
    put_ticket(expires_at=IN_A_MINUTE)
    event = load_event("ws_authorizer_connect")

    # When it is presented
    answer = decide(authorizer, event)

    # Then the connection is allowed as Alice, for that client, on exactly this route
    assert effect_of(answer) == "Allow"
    assert answer["principalId"] == ALICE.sub
    assert answer["context"] == {"client_id": SAMPLE_CLIENT_ID, "owner": ALICE.sub}
    [statement] = answer["policyDocument"]["Statement"]
    assert statement["Resource"] == event["methodArn"]
    assert statement["Action"] == "execute-api:Invoke"


def test_a_ticket_is_spent_by_its_first_use(authorizer):
    # Given the sample ticket, used once
    put_ticket(expires_at=IN_A_MINUTE)
    assert effect_of(decide(authorizer)) == "Allow"

    # When it is presented again
    answer = decide(authorizer)

    # Then it is refused, and nothing of it remains
    assert effect_of(answer) == "Deny"
    assert "context" not in answer
    assert table_items("TicketsTable") == []


def test_two_simultaneous_uses_of_one_ticket_allow_exactly_one(authorizer, monkeypatch):
    # Given DynamoDB's item-level atomicity (moto checks a condition and deletes without a lock,
    # so it is given one here), and twenty tickets, each presented by two racing connections
    atomic = Lock()
    unlocked = DynamoDBBackend.delete_item

    def delete_item(self, *args, **kwargs):
        with atomic:
            return unlocked(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "delete_item", delete_item)
    values = [secrets.token_urlsafe(32) for _ in range(20)]
    for value in values:
        put_ticket(ticket=value, expires_at=IN_A_MINUTE)

    def race(value: str) -> list[str]:
        event = load_event("ws_authorizer_connect")
        event["queryStringParameters"] = {"ticket": value}
        start = Barrier(2)

        def connect(_: int) -> str:
            start.wait()
            return effect_of(decide(authorizer, event))

        with ThreadPoolExecutor(max_workers=2) as pool:
            return sorted(pool.map(connect, range(2)))

    # When each ticket is raced
    outcomes = [race(value) for value in values]

    # Then every race allowed exactly one connection
    assert outcomes == [["Allow", "Deny"]] * len(values)


def test_an_expired_ticket_is_denied(authorizer):
    # Given a ticket that expired a second ago (DynamoDB's TTL sweep has not removed it)
    put_ticket(expires_at=int(NOW.timestamp()) - 1)

    # When it is presented, then it is refused
    assert effect_of(decide(authorizer)) == "Deny"


def test_a_ticket_is_still_good_in_its_last_second(authorizer):
    # Given a ticket that expires this very second
    put_ticket(expires_at=int(NOW.timestamp()))

    # When it is presented, then it is accepted
    assert effect_of(decide(authorizer)) == "Allow"


def test_an_unknown_ticket_is_denied(authorizer):
    # Given no ticket stored at all, when the sample ticket is presented, then it is refused
    answer = decide(authorizer)

    assert effect_of(answer) == "Deny"
    assert answer["principalId"] == "anonymous"


def test_a_missing_ticket_is_denied(authorizer):
    # When $connect arrives with no query string at all, then it is refused
    assert effect_of(decide(authorizer, load_event("ws_authorizer_missing_ticket"))) == "Deny"


def test_a_malformed_query_is_denied_without_touching_the_table(authorizer):
    # Given a stored ticket and a query whose ticket is not one
    put_ticket(expires_at=IN_A_MINUTE)

    # When the malformed sample is presented
    answer = decide(authorizer, load_event("ws_authorizer_malformed_ticket"))

    # Then it is refused and the stored ticket is untouched
    assert effect_of(answer) == "Deny"
    assert len(table_items("TicketsTable")) == 1


@pytest.mark.parametrize(
    "query",
    [None, {}, {"ticket": ""}, {"ticket": "x" * 5000}, {"client_id": SAMPLE_CLIENT_ID}],
    ids=["null", "empty", "blank", "huge", "old-style-client-id"],
)
def test_odd_queries_are_denied_never_an_error(authorizer, query):
    # Given a $connect event with an odd query string
    event = load_event("ws_authorizer_connect")
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = (
        {k: [v] for k, v in query.items()} if query is not None else None
    )

    # When it is presented, then the answer is a Deny, not an exception
    assert effect_of(decide(authorizer, event)) == "Deny"


def test_a_ticket_of_a_deleted_client_is_denied_and_spent(authorizer):
    # Given a ticket for a client that was deleted after the ticket was minted
    other = "5" * 32
    put_ticket(client_id=other, expires_at=IN_A_MINUTE)

    # When it is presented, then it is refused, and the ticket is spent all the same
    assert effect_of(decide(authorizer)) == "Deny"
    assert table_items("TicketsTable") == []


def test_a_ticket_of_an_expired_client_is_denied(authorizer):
    # Given Alice's client expired a second ago, and a ticket minted for it before that
    put_client("ClientsTable", SAMPLE_CLIENT_ID, ttl=int(NOW.timestamp()) - 1)
    put_ticket(expires_at=IN_A_MINUTE)

    # When it is presented, then it is refused
    assert effect_of(decide(authorizer)) == "Deny"


def test_a_ticket_whose_owner_no_longer_owns_the_client_is_denied(authorizer):
    # Given a ticket that names Bob as the owner of Alice's client
    put_ticket(owner=BOB.sub, expires_at=IN_A_MINUTE)

    # When it is presented, then it is refused
    assert effect_of(decide(authorizer)) == "Deny"


def test_the_ticket_never_reaches_the_logs(authorizer, caplog):
    # Given the sample ticket
    put_ticket(expires_at=IN_A_MINUTE)

    # When it is used twice (allowed, then denied)
    with caplog.at_level(logging.INFO):
        decide(authorizer)
        decide(authorizer)

    # Then no log record holds the ticket, only one short fingerprint of its hash
    records = [vars(record) for record in caplog.records]
    assert len(records) == 2
    assert SAMPLE_TICKET not in json.dumps(records, default=str)
    assert {record["ticket"] for record in records} == {tickets.fingerprint(SAMPLE_TICKET)}
