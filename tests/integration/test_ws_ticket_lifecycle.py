"""The WebSocket ticket's life through the real handlers under moto, chained as API Gateway chains
them: ``POST /clients`` mints a first ticket, the ``$connect`` authorizer spends it and
``$connect`` stores the connection with its owner; a reuse is refused, a fresh ticket opens a
second connection, another user cannot mint one, and ``DELETE /clients/{id}`` closes every
socket and voids the tickets still unspent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
from moto.core import DEFAULT_ACCOUNT_ID

from tests.support.api_aws import (
    WEBSOCKET_ENDPOINT,
    FakeLambdaContext,
    body_of,
    create_provisioner_stack,
    load_event,
    table_items,
)
from tests.support.functions import load_function
from tests.support.tenancy import ALICE, BOB, as_user

MANAGEMENT_ENDPOINT = "https://" + WEBSOCKET_ENDPOINT.removeprefix("wss://")


class Functions:
    """The provisioner, the `$connect` authorizer and `$connect`, loaded with one environment."""

    def __init__(self) -> None:
        self.provisioner = load_function("provisioner")
        self.authorizer = load_function("ws_authorizer")
        self.connect_fn = load_function("ws_connect")

    def rest(self, name: str, *, user=ALICE, client_id: str | None = None) -> dict:
        event = as_user(load_event(name), user)
        if client_id is not None:
            event["path"] = event["path"].replace(event["pathParameters"]["client_id"], client_id)
            event["pathParameters"] = {"client_id": client_id}
        return self.provisioner.lambda_handler(event, FakeLambdaContext())

    def open_socket(self, ticket: str, connection_id: str) -> int:
        """What API Gateway does on ``$connect``: the authorizer, then (if allowed) the route.

        Returns the status the client sees (403 when the authorizer denies).
        """
        event = load_event("ws_authorizer_connect")
        event["queryStringParameters"] = {"ticket": ticket}
        event["multiValueQueryStringParameters"] = {"ticket": [ticket]}
        answer = self.authorizer.lambda_handler(event, FakeLambdaContext())
        [statement] = answer["policyDocument"]["Statement"]
        if statement["Effect"] != "Allow":
            return 403
        connect = load_event("ws_connect_authorized")
        connect["queryStringParameters"] = {"ticket": ticket}
        connect["requestContext"]["connectionId"] = connection_id
        connect["requestContext"]["authorizer"] = {
            **answer["context"],
            "principalId": answer["principalId"],
        }
        status: int = self.connect_fn.lambda_handler(connect, FakeLambdaContext())["statusCode"]
        if status == 200:
            # The socket is now live on the stage (moto's @connections API learns of it).
            boto3.client(
                "apigatewaymanagementapi", endpoint_url=MANAGEMENT_ENDPOINT
            ).post_to_connection(ConnectionId=connection_id, Data=b"{}")
        return status


@pytest.fixture
def functions(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> Functions:
    for name, value in create_provisioner_stack().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CONNECTION_TTL_SECONDS", "7200")
    return Functions()


def live_sockets() -> set[str]:
    region = boto3.session.Session().region_name
    return set(apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID][region].connections)


def test_a_ticket_opens_one_connection_once(functions):
    # Given Alice's new client and its first ticket
    created = body_of(functions.rest("provisioner_push"))

    # When she connects with the ticket, and again with the same ticket
    first = functions.open_socket(created["ticket"], "ConnFirst1")
    again = functions.open_socket(created["ticket"], "ConnAgain2")

    # Then the first connection is stored as hers and the reuse is refused
    assert (first, again) == (200, 403)
    [row] = table_items("ConnectionsTable")
    assert row["connection_id"]["S"] == "ConnFirst1"
    assert row["client_id"]["S"] == created["client_id"]
    assert row["owner"]["S"] == ALICE.sub


def test_a_fresh_ticket_opens_another_connection(functions):
    # Given Alice's client whose first ticket is spent
    created = body_of(functions.rest("provisioner_push"))
    functions.open_socket(created["ticket"], "ConnFirst1")

    # When she mints another ticket and connects with it
    minted = functions.rest("provisioner_create_ticket", client_id=created["client_id"])
    second = functions.open_socket(body_of(minted)["ticket"], "ConnSecond2")

    # Then both connections are live
    assert minted["statusCode"] == 201
    assert second == 200
    assert {item["connection_id"]["S"] for item in table_items("ConnectionsTable")} == {
        "ConnFirst1",
        "ConnSecond2",
    }


def test_another_user_can_neither_mint_a_ticket_nor_delete_the_client(functions):
    # Given Alice's client
    created = body_of(functions.rest("provisioner_push"))

    # When Bob asks for a ticket for it and tries to delete it
    minted = functions.rest("provisioner_create_ticket", user=BOB, client_id=created["client_id"])
    deleted = functions.rest("provisioner_delete_client", user=BOB, client_id=created["client_id"])

    # Then both are 404 and Alice's first ticket still works
    assert (minted["statusCode"], deleted["statusCode"]) == (404, 404)
    assert functions.open_socket(created["ticket"], "ConnAlice1") == 200


def test_an_expired_ticket_is_refused(functions, monkeypatch):
    # Given Alice's client and its first ticket, presented 61 s later
    created = body_of(functions.rest("provisioner_push"))
    later = datetime.now(UTC) + timedelta(seconds=61)
    monkeypatch.setattr(functions.authorizer, "utc_now", lambda: later)

    # When she connects, then the ticket is refused
    assert functions.open_socket(created["ticket"], "ConnLate1") == 403


def test_deleting_the_client_closes_its_sockets_and_voids_its_tickets(functions):
    # Given Alice's client with two live connections and an unspent ticket
    created = body_of(functions.rest("provisioner_push"))
    client_id = created["client_id"]
    functions.open_socket(created["ticket"], "ConnFirst1")
    second = body_of(functions.rest("provisioner_create_ticket", client_id=client_id))
    functions.open_socket(second["ticket"], "ConnSecond2")
    unspent = body_of(functions.rest("provisioner_create_ticket", client_id=client_id))
    assert live_sockets() == {"ConnFirst1", "ConnSecond2"}

    # When she deletes the client
    deleted = functions.rest("provisioner_delete_client", client_id=client_id)

    # Then both sockets are closed, their rows are gone, and the unspent ticket opens nothing
    assert deleted["statusCode"] == 204
    assert live_sockets() == set()
    assert table_items("ConnectionsTable") == []
    assert [item for item in table_items("ClientsTable") if "deleted_at" not in item] == []
    assert functions.open_socket(unspent["ticket"], "ConnAfter3") == 403
    minted = functions.rest("provisioner_create_ticket", client_id=client_id)
    assert minted["statusCode"] == 404
