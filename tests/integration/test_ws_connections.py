"""WsConnectFunction and WsDisconnectFunction against moto's DynamoDB: a connection row carries
its client and owner, never outlives its client, and is refused once the client is gone."""

from __future__ import annotations

import time

import boto3
import pytest
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
from moto.core import DEFAULT_ACCOUNT_ID

from pipeline_common.tables.connections import CLIENT_INDEX
from tests.support.api_aws import (
    SAMPLE_CLIENT_ID,
    SAMPLE_CONNECTION_ID,
    WEBSOCKET_ENDPOINT,
    FakeLambdaContext,
    create_clients_table,
    create_connections_table,
    load_event,
    put_client,
)
from tests.support.functions import load_function
from tests.support.tenancy import ALICE, BOB


@pytest.fixture
def table(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """ConnectionsTable, and Alice's sample client (live for years) in ClientsTable."""
    name = create_connections_table()
    monkeypatch.setenv("CONNECTIONS_TABLE", name)
    monkeypatch.setenv("CLIENTS_TABLE", create_clients_table())
    monkeypatch.setenv("CONNECTION_TTL_SECONDS", "7200")
    monkeypatch.setenv("WEBSOCKET_ENDPOINT", WEBSOCKET_ENDPOINT)
    monkeypatch.setenv("MAX_CONNECTIONS_PER_CLIENT", "5")
    put_client("ClientsTable", SAMPLE_CLIENT_ID, owner=ALICE.sub)
    return name


def connections_of(client_id: str) -> set[str]:
    items = boto3.client("dynamodb").query(
        TableName="ConnectionsTable",
        IndexName=CLIENT_INDEX,
        KeyConditionExpression="client_id = :c",
        ExpressionAttributeValues={":c": {"S": client_id}},
    )["Items"]
    return {item["connection_id"]["S"] for item in items}


def connect(connection_id: str = SAMPLE_CONNECTION_ID) -> dict:
    event = load_event("ws_connect_authorized")
    event["requestContext"]["connectionId"] = connection_id
    return load_function("ws_connect").lambda_handler(event, FakeLambdaContext())


def stored(connection_id: str = SAMPLE_CONNECTION_ID) -> dict | None:
    item: dict | None = (
        boto3.client("dynamodb")
        .get_item(TableName="ConnectionsTable", Key={"connection_id": {"S": connection_id}})
        .get("Item")
    )
    return item


def test_connect_stores_the_connection_with_its_client_owner_and_ttl(table):
    # When the authorized sample connection arrives
    response = connect()

    # Then its row names the client and the owner from the authorizer, and expires in 2 h
    assert response["statusCode"] == 200
    item = stored()
    assert item is not None
    assert item["client_id"]["S"] == SAMPLE_CLIENT_ID
    assert item["owner"]["S"] == ALICE.sub
    connected_epoch = load_event("ws_connect_authorized")["requestContext"]["connectedAt"] // 1000
    assert int(item["ttl"]["N"]) > connected_epoch + 7200 - 1


def test_the_connection_never_outlives_its_client(table):
    # Given Alice's client expires in ten minutes
    expires = int(time.time()) + 600
    put_client("ClientsTable", SAMPLE_CLIENT_ID, owner=ALICE.sub, ttl=expires)

    # When she connects
    assert connect()["statusCode"] == 200

    # Then the connection's TTL is the client's, not two hours away
    item = stored()
    assert item is not None
    assert int(item["ttl"]["N"]) == expires


def test_connect_for_a_client_deleted_since_the_authorizer_is_refused(table):
    # Given the client was deleted after the authorizer allowed the connection
    boto3.client("dynamodb").delete_item(
        TableName="ClientsTable", Key={"client_id": {"S": SAMPLE_CLIENT_ID}}
    )

    # When $connect runs, then it is refused and nothing is stored
    assert connect()["statusCode"] == 403
    assert boto3.client("dynamodb").scan(TableName=table)["Count"] == 0


def test_connect_for_an_expired_client_is_refused(table):
    # Given the client expired a second ago
    put_client("ClientsTable", SAMPLE_CLIENT_ID, owner=ALICE.sub, ttl=int(time.time()) - 1)

    # When $connect runs, then it is refused
    assert connect()["statusCode"] == 403
    assert stored() is None


def test_connect_whose_owner_does_not_own_the_client_is_refused(table):
    # Given an authorizer context that names Bob for Alice's client
    event = load_event("ws_connect_authorized")
    event["requestContext"]["authorizer"]["owner"] = BOB.sub

    # When $connect runs, then it is refused
    response = load_function("ws_connect").lambda_handler(event, FakeLambdaContext())
    assert response["statusCode"] == 403
    assert stored() is None


def test_a_client_may_hold_several_connections(table):
    # When one client connects twice (two tabs)
    connect("conn-one=")
    connect("conn-two=")

    # Then both connections are found by the client
    assert connections_of(SAMPLE_CLIENT_ID) == {"conn-one=", "conn-two="}


def live_sockets() -> set[str]:
    """The connections moto's @connections API still knows."""
    region = boto3.session.Session().region_name
    return set(apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID][region].connections)


def open_socket(connection_id: str) -> None:
    """A socket the @connections API knows (moto learns one from a post, and keeps its id
    URL-encoded: these ids have nothing to encode), then its $connect."""
    management = "https://" + WEBSOCKET_ENDPOINT.removeprefix("wss://")
    boto3.client("apigatewaymanagementapi", endpoint_url=management).post_to_connection(
        ConnectionId=connection_id, Data=b"hello"
    )
    assert connect(connection_id)["statusCode"] == 200


def test_a_connection_beyond_the_cap_closes_the_clients_oldest(table, monkeypatch):
    # Given a cap of two connections per client, and another client's connection
    monkeypatch.setenv("MAX_CONNECTIONS_PER_CLIENT", "2")
    put_client("ClientsTable", "b" * 32, owner=BOB.sub)
    other = load_event("ws_connect_authorized")
    other["requestContext"].update(connectionId="bobconn")
    other["requestContext"]["authorizer"].update(client_id="b" * 32, owner=BOB.sub)
    assert (
        load_function("ws_connect").lambda_handler(other, FakeLambdaContext())["statusCode"] == 200
    )
    # When Alice's client connects three times, then a fourth
    for connection_id in ("conn1", "conn2", "conn3"):
        open_socket(connection_id)
    after_three = connections_of(SAMPLE_CLIENT_ID)
    open_socket("conn4")
    # Then each connection beyond two closed the oldest socket and removed its row, and the
    # newest always stays; Bob's connection is untouched
    assert after_three == {"conn2", "conn3"}
    assert connections_of(SAMPLE_CLIENT_ID) == {"conn3", "conn4"}
    assert {"conn1", "conn2"}.isdisjoint(live_sockets())
    assert {"conn3", "conn4"} <= live_sockets()
    assert connections_of("b" * 32) == {"bobconn"}


@pytest.mark.parametrize("missing", ["authorizer", "owner", "client_id"])
def test_connect_without_an_authorized_client_and_owner_is_refused(table, missing):
    # Given an event whose authorizer context lacks the client, the owner, or everything
    event = load_event("ws_connect_authorized")
    if missing == "authorizer":
        del event["requestContext"]["authorizer"]
    else:
        del event["requestContext"]["authorizer"][missing]

    # When $connect runs
    response = load_function("ws_connect").lambda_handler(event, FakeLambdaContext())

    # Then it is refused and nothing is stored
    assert response["statusCode"] == 403
    assert boto3.client("dynamodb").scan(TableName=table)["Count"] == 0


def test_disconnect_removes_only_that_connection(table):
    # Given two connections of one client
    connect(SAMPLE_CONNECTION_ID)
    connect("conn-other=")

    # When the sample connection disconnects
    response = load_function("ws_disconnect").lambda_handler(
        load_event("ws_disconnect_known"), FakeLambdaContext()
    )

    # Then only the other one remains
    assert response["statusCode"] == 200
    assert connections_of(SAMPLE_CLIENT_ID) == {"conn-other="}


def test_disconnect_of_an_unknown_connection_is_200(table):
    # When a connection nobody stored disconnects (a $disconnect may come twice)
    response = load_function("ws_disconnect").lambda_handler(
        load_event("ws_disconnect_known"), FakeLambdaContext()
    )

    # Then it is a normal 200
    assert response["statusCode"] == 200
