"""The per-user limits of ``POST /clients`` against moto: over the cap or the creation rate the
answer is 429 naming the limit, and nothing (row, ticket, queue, subscription) is created."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import ModuleType

import boto3
import pytest

from tests.support.api_aws import (
    FakeLambdaContext,
    body_of,
    create_provisioner_stack,
    load_event,
    put_client,
    table_items,
)
from tests.support.functions import load_function
from tests.support.tenancy import ALICE, BOB, as_user

NOW = datetime(2026, 1, 19, 9, 15, 32, tzinfo=UTC)


@pytest.fixture
def limited(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, dict[str, str]]:
    """The provisioner with a cap of 2 live clients and 3 creations a minute, at ``NOW``."""
    environment = create_provisioner_stack(
        MAX_CLIENTS_PER_USER="2", MAX_CLIENT_CREATIONS_PER_MINUTE="3"
    )
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    provisioner = load_function("provisioner")
    monkeypatch.setattr(provisioner, "utc_now", lambda: NOW)
    return provisioner, environment


def create(provisioner: ModuleType, name: str = "provisioner_poll", user=ALICE) -> dict:
    return provisioner.lambda_handler(as_user(load_event(name), user), FakeLambdaContext())


def stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def snapshot(environment: dict[str, str]) -> tuple[int, int, int, int]:
    """How many client rows, tickets, queues and subscriptions exist."""
    subscriptions = boto3.client("sns").list_subscriptions_by_topic(
        TopicArn=environment["RESULTS_TOPIC_ARN"]
    )["Subscriptions"]
    return (
        len(table_items("ClientsTable")),
        len(table_items("TicketsTable")),
        len(boto3.client("sqs").list_queues().get("QueueUrls", [])),
        len(subscriptions),
    )


def test_over_the_cap_is_429_naming_it_and_creates_nothing(limited):
    # Given Alice already holds two live polling clients (created long enough ago)
    provisioner, environment = limited
    for client_id in ("a" * 32, "b" * 32):
        put_client("ClientsTable", client_id, created_at=stamp(NOW - timedelta(hours=1)))
    before = snapshot(environment)

    # When she asks for a third
    response = create(provisioner)

    # Then it is refused with the cap named, and nothing was created
    assert response["statusCode"] == 429
    error = body_of(response)["error"]
    assert error["code"] == "too_many_requests"
    assert "MAX_CLIENTS_PER_USER" in error["message"]
    assert snapshot(environment) == before


def test_expired_clients_do_not_count_toward_the_cap(limited):
    # Given Alice's two clients have expired (DynamoDB's TTL sweep has not run yet)
    provisioner, _ = limited
    expired = int((NOW - timedelta(seconds=1)).timestamp())
    for client_id in ("a" * 32, "b" * 32):
        put_client(
            "ClientsTable", client_id, created_at=stamp(NOW - timedelta(days=8)), ttl=expired
        )

    # When she asks for another
    response = create(provisioner)

    # Then she gets it
    assert response["statusCode"] == 201


def test_the_cap_is_per_user(limited):
    # Given Bob holds two live clients
    provisioner, _ = limited
    for client_id in ("a" * 32, "b" * 32):
        put_client(
            "ClientsTable", client_id, owner=BOB.sub, created_at=stamp(NOW - timedelta(hours=1))
        )

    # When Alice asks for one
    response = create(provisioner)

    # Then Bob's clients do not count against her
    assert response["statusCode"] == 201


def test_over_the_creation_rate_is_429_naming_it_and_creates_nothing(limited, monkeypatch):
    # Given a cap high enough not to matter, and three clients Alice created in the last minute
    provisioner, environment = limited
    monkeypatch.setattr(
        provisioner,
        "settings",
        provisioner.settings.model_copy(update={"max_clients_per_user": 100}),
    )
    for seconds_ago, client_id in ((50, "a" * 32), (20, "b" * 32), (1, "c" * 32)):
        put_client(
            "ClientsTable", client_id, created_at=stamp(NOW - timedelta(seconds=seconds_ago))
        )
    before = snapshot(environment)

    # When she asks for a fourth
    response = create(provisioner)

    # Then it is refused with the rate named, and nothing was created
    assert response["statusCode"] == 429
    assert "MAX_CLIENT_CREATIONS_PER_MINUTE" in body_of(response)["error"]["message"]
    assert snapshot(environment) == before


def test_creations_older_than_a_minute_do_not_count_toward_the_rate(limited, monkeypatch):
    # Given three of Alice's clients created just over a minute ago
    provisioner, _ = limited
    monkeypatch.setattr(
        provisioner,
        "settings",
        provisioner.settings.model_copy(update={"max_clients_per_user": 100}),
    )
    for client_id in ("a" * 32, "b" * 32, "c" * 32):
        put_client("ClientsTable", client_id, created_at=stamp(NOW - timedelta(seconds=61)))

    # When she asks for another
    response = create(provisioner)

    # Then she gets it
    assert response["statusCode"] == 201


def test_requests_through_the_handler_reach_the_cap_exactly(limited):
    # Given Alice creates clients until she is refused
    provisioner, environment = limited
    answers = [create(provisioner, "provisioner_push")["statusCode"] for _ in range(3)]

    # Then exactly the cap was granted, and only that many clients and tickets exist
    assert answers == [201, 201, 429]
    clients, tickets_, queues, subscriptions = snapshot(environment)
    assert (clients, tickets_, queues, subscriptions) == (2, 2, 0, 0)
    assert {item["owner"]["S"] for item in table_items("ClientsTable")} == {ALICE.sub}
