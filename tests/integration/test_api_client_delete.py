"""``DELETE /clients/{client_id}`` against moto: the caller's client goes with its live WebSocket
connections (closed through the stage's @connections API), its rows, and a polling client's
subscription and queue (a legacy poll client's: new ones have neither); anyone else's client is
a 404 and stays as it was.

moto's @connections API deletes connections but never answers ``GoneException`` nor fails; the
tests that need those answers stub it (botocore Stubber), the others use moto's.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from datetime import UTC, datetime
from types import ModuleType

import boto3
import pytest
from botocore.stub import Stubber
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
from moto.core import DEFAULT_ACCOUNT_ID

from tests.support.api_aws import (
    SAMPLE_CLIENT_ID,
    WEBSOCKET_ENDPOINT,
    FakeLambdaContext,
    body_of,
    create_fifo_queue,
    create_provisioner_stack,
    load_event,
    put_client,
    put_legacy_poll_client,
    table_items,
)
from tests.support.functions import load_function
from tests.support.tenancy import ALICE, BOB, CAROL_ADMIN, as_user

NOW = datetime(2026, 1, 19, 9, 15, 32, tzinfo=UTC)
MANAGEMENT_ENDPOINT = "https://" + WEBSOCKET_ENDPOINT.removeprefix("wss://")
OTHER_CLIENT_ID = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"


@pytest.fixture
def stack(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    environment = create_provisioner_stack()
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


@pytest.fixture
def provisioner(stack, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    fn = load_function("provisioner")
    monkeypatch.setattr(fn, "utc_now", lambda: NOW)
    return fn


def delete(provisioner: ModuleType, event: dict | None = None) -> dict:
    return provisioner.lambda_handler(
        event or load_event("provisioner_delete_client"), FakeLambdaContext()
    )


def live_sockets() -> set[str]:
    """The connections moto's @connections API still knows."""
    region = boto3.session.Session().region_name
    return set(apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID][region].connections)


def connect(connection_id: str, client_id: str = SAMPLE_CLIENT_ID, owner: str = ALICE.sub) -> None:
    """A live socket (known to the @connections API) and its ConnectionsTable row."""
    boto3.client("apigatewaymanagementapi", endpoint_url=MANAGEMENT_ENDPOINT).post_to_connection(
        ConnectionId=connection_id, Data=b"hello"
    )
    boto3.client("dynamodb").put_item(
        TableName="ConnectionsTable",
        Item={
            "connection_id": {"S": connection_id},
            "client_id": {"S": client_id},
            "owner": {"S": owner},
            "connected_at": {"S": "2026-01-19T09:16:01+00:00"},
            "ttl": {"N": "4102444800"},
        },
    )


def connection_rows() -> set[str]:
    return {item["connection_id"]["S"] for item in table_items("ConnectionsTable")}


def client_ids() -> set[str]:
    """The clients still standing (a deleted one stays as a tombstone, ``deleted_at`` set)."""
    return {
        item["client_id"]["S"] for item in table_items("ClientsTable") if "deleted_at" not in item
    }


def tombstones() -> dict[str, dict]:
    return {
        item["client_id"]["S"]: item for item in table_items("ClientsTable") if "deleted_at" in item
    }


@pytest.fixture
def management(provisioner: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """The @connections client the function gets, stubbed."""
    teardown = importlib.import_module("provisioner_teardown")
    api = boto3.client("apigatewaymanagementapi", endpoint_url="https://stub.invalid/prod")
    monkeypatch.setattr(teardown, "management_client", lambda endpoint: api)
    with Stubber(api) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def test_deleting_a_client_closes_its_live_connections(provisioner):
    # Given Alice's client with two live sockets, and another client's socket
    put_client("ClientsTable", SAMPLE_CLIENT_ID)
    put_client("ClientsTable", OTHER_CLIENT_ID)
    connect("ConnOne1")
    connect("ConnTwo2")
    connect("ConnOther3", client_id=OTHER_CLIENT_ID)

    # When she deletes the client
    response = delete(provisioner)

    # Then its sockets are closed and forgotten, the client is gone, and the other is untouched
    assert response["statusCode"] == 204
    assert not response.get("body")
    assert live_sockets() == {"ConnOther3"}
    assert connection_rows() == {"ConnOther3"}
    assert client_ids() == {OTHER_CLIENT_ID}


def test_deleting_a_poll_client_needs_no_queue_or_subscription(provisioner, stack):
    # Given Alice's polling client, provisioned through the function itself (it has neither)
    created = body_of(
        provisioner.lambda_handler(load_event("provisioner_poll"), FakeLambdaContext())
    )
    event = load_event("provisioner_delete_client")
    event["path"] = f"/clients/{created['client_id']}"
    event["pathParameters"] = {"client_id": created["client_id"]}

    # When she deletes it
    response = delete(provisioner, event)

    # Then the client is gone, and no queue or subscription was ever involved
    assert response["statusCode"] == 204
    assert client_ids() == set()
    assert boto3.client("sqs").list_queues().get("QueueUrls", []) == []
    subscriptions = boto3.client("sns").list_subscriptions_by_topic(
        TopicArn=stack["RESULTS_TOPIC_ARN"]
    )["Subscriptions"]
    assert subscriptions == []


def test_deleting_a_legacy_poll_client_removes_its_subscription_and_queue(provisioner, stack):
    # Given a polling client from before poll mode read JobsTable (own queue and subscription)
    put_legacy_poll_client(stack["RESULTS_TOPIC_ARN"], SAMPLE_CLIENT_ID)

    # When Alice deletes it
    response = delete(provisioner)

    # Then its queue, its subscription and its row are gone
    assert response["statusCode"] == 204
    assert boto3.client("sqs").list_queues().get("QueueUrls", []) == []
    subscriptions = boto3.client("sns").list_subscriptions_by_topic(
        TopicArn=stack["RESULTS_TOPIC_ARN"]
    )["Subscriptions"]
    assert subscriptions == []
    assert client_ids() == set()


def test_a_queue_already_gone_does_not_stop_the_delete(provisioner):
    # Given a polling client whose queue and subscription were already removed (a retried delete)
    queue_url = create_fifo_queue("pipeline-test-client-gone")
    boto3.client("sqs").delete_queue(QueueUrl=queue_url)
    put_client(
        "ClientsTable",
        SAMPLE_CLIENT_ID,
        queue_url=queue_url,
        subscription_arn="arn:aws:sns:us-east-1:123456789012:pipeline-ResultsTopic.fifo:0000",
    )

    # When Alice deletes it
    response = delete(provisioner)

    # Then the delete completes
    assert response["statusCode"] == 204
    assert client_ids() == set()


@pytest.mark.parametrize("user", [BOB, CAROL_ADMIN], ids=["another-user", "an-admin"])
def test_someone_elses_client_is_404_and_untouched(provisioner, user):
    # Given Alice's client with a live socket
    put_client("ClientsTable", SAMPLE_CLIENT_ID)
    connect("ConnOne1")

    # When Bob, or an admin, deletes it
    response = delete(provisioner, as_user(load_event("provisioner_delete_client"), user))

    # Then it is a 404 and everything is as it was
    assert response["statusCode"] == 404
    assert body_of(response)["error"]["code"] == "not_found"
    assert client_ids() == {SAMPLE_CLIENT_ID}
    assert connection_rows() == {"ConnOne1"}
    assert live_sockets() == {"ConnOne1"}


def test_the_sample_admin_event_is_refused_on_alices_client(provisioner):
    # Given Alice's client
    put_client("ClientsTable", SAMPLE_CLIENT_ID)

    # When the admin's sample request deletes it, then admins act on their own clients only
    response = delete(provisioner, load_event("provisioner_delete_client_admin"))

    assert response["statusCode"] == 404
    assert client_ids() == {SAMPLE_CLIENT_ID}


def test_an_unknown_or_expired_client_is_404(provisioner):
    # Given Alice's client expired a second ago
    put_client("ClientsTable", SAMPLE_CLIENT_ID, ttl=int(NOW.timestamp()) - 1)

    # When she deletes it, and a client that never existed
    expired = delete(provisioner)
    other = load_event("provisioner_delete_client")
    other["path"] = f"/clients/{'0' * 32}"
    other["pathParameters"] = {"client_id": "0" * 32}
    unknown = delete(provisioner, other)

    # Then both are the same 404
    assert expired["statusCode"] == unknown["statusCode"] == 404
    assert body_of(expired) == body_of(unknown)


def test_a_connection_already_gone_counts_as_closed(provisioner, management):
    # Given Alice's client with a connection whose socket is already gone
    put_client("ClientsTable", SAMPLE_CLIENT_ID)
    connect_row_only = {
        "connection_id": {"S": "ConnGone1"},
        "client_id": {"S": SAMPLE_CLIENT_ID},
        "owner": {"S": ALICE.sub},
        "ttl": {"N": "4102444800"},
    }
    boto3.client("dynamodb").put_item(TableName="ConnectionsTable", Item=connect_row_only)
    management.add_client_error(
        "delete_connection",
        service_error_code="GoneException",
        http_status_code=410,
        expected_params={"ConnectionId": "ConnGone1"},
    )

    # When she deletes the client
    response = delete(provisioner)

    # Then the delete completes and the stale row is gone
    assert response["statusCode"] == 204
    assert connection_rows() == set()
    assert client_ids() == set()


def test_a_connection_that_cannot_be_closed_fails_retryably_and_keeps_the_client(
    provisioner, management
):
    # Given Alice's client with a socket the @connections API refuses to close
    put_client("ClientsTable", SAMPLE_CLIENT_ID)
    boto3.client("dynamodb").put_item(
        TableName="ConnectionsTable",
        Item={
            "connection_id": {"S": "ConnStuck1"},
            "client_id": {"S": SAMPLE_CLIENT_ID},
            "owner": {"S": ALICE.sub},
            "ttl": {"N": "4102444800"},
        },
    )
    management.add_client_error(
        "delete_connection",
        service_error_code="LimitExceededException",
        http_status_code=429,
        expected_params={"ConnectionId": "ConnStuck1"},
    )

    # When she deletes the client
    response = delete(provisioner)

    # Then the answer is 503 and the client and the row remain, so a retry can finish the job
    assert response["statusCode"] == 503
    assert client_ids() == {SAMPLE_CLIENT_ID}
    assert connection_rows() == {"ConnStuck1"}


def test_the_stage_url_becomes_the_management_endpoint(provisioner):
    # Given the stage URL from the template (wss://…/prod)
    settings = provisioner.settings

    # Then sockets are closed over https on the same host and stage, and clients connect over wss
    assert settings.management_endpoint == MANAGEMENT_ENDPOINT
    assert settings.websocket_url == WEBSOCKET_ENDPOINT


def test_a_deleted_client_stays_a_tombstone_for_the_rate_window(provisioner):
    # Given Alice's live client
    put_client("ClientsTable", SAMPLE_CLIENT_ID)

    # When she deletes it, twice
    first = delete(provisioner)
    second = delete(provisioner)

    # Then the row is retired, not removed: it expires just after the creation-rate window, so
    # creating and deleting in a loop still counts toward MAX_CLIENT_CREATIONS_PER_MINUTE
    assert first["statusCode"] == 204
    assert second["statusCode"] == 404
    tombstone = tombstones()[SAMPLE_CLIENT_ID]
    assert 0 < int(tombstone["ttl"]["N"]) - NOW.timestamp() <= 120
