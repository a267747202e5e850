"""WsConnectFunction and WsDisconnectFunction against moto's DynamoDB: a connection row carries
its client and owner, never outlives its client, and is refused once the client is gone."""

from __future__ import annotations

import time
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from pipeline_common import aws
from tests.support.functions import load_function
from tests.support.tenancy import ALICE, BOB
from tests.support.test_api_aws import (
    SAMPLE_CLIENT_ID,
    SAMPLE_CONNECTION_ID,
    FakeLambdaContext,
    create_clients_table,
    create_connections_table,
    load_event,
    put_client,
)


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """ConnectionsTable, and Alice's sample client (live for years) in ClientsTable."""
    with mock_aws():
        aws.clear_clients()
        name = create_connections_table()
        monkeypatch.setenv("CONNECTIONS_TABLE", name)
        monkeypatch.setenv("CLIENTS_TABLE", create_clients_table())
        monkeypatch.setenv("CONNECTION_TTL_SECONDS", "7200")
        put_client("ClientsTable", SAMPLE_CLIENT_ID, owner=ALICE.sub)
        yield name
    aws.clear_clients()


def connections_of(client_id: str) -> set[str]:
    items = boto3.client("dynamodb").query(
        TableName="ConnectionsTable",
        IndexName="client_id-index",
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
