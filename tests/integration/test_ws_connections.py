"""WsConnectFunction and WsDisconnectFunction against moto's DynamoDB."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from pipeline_common import aws
from tests.support.functions import load_function
from tests.support.test_api_aws import (
    SAMPLE_CLIENT_ID,
    SAMPLE_CONNECTION_ID,
    FakeLambdaContext,
    create_connections_table,
    load_event,
)


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with mock_aws():
        aws.clear_clients()
        name = create_connections_table()
        monkeypatch.setenv("CONNECTIONS_TABLE", name)
        monkeypatch.setenv("CONNECTION_TTL_SECONDS", "7200")
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


def test_connect_stores_the_connection_with_a_ttl(table):
    response = connect()

    assert response["statusCode"] == 200
    item = boto3.client("dynamodb").get_item(
        TableName=table, Key={"connection_id": {"S": SAMPLE_CONNECTION_ID}}
    )["Item"]
    assert item["client_id"]["S"] == SAMPLE_CLIENT_ID
    connected_epoch = load_event("ws_connect_authorized")["requestContext"]["connectedAt"] // 1000
    assert int(item["ttl"]["N"]) > connected_epoch + 7200 - 1


def test_a_client_may_hold_several_connections(table):
    connect("conn-one=")
    connect("conn-two=")

    assert connections_of(SAMPLE_CLIENT_ID) == {"conn-one=", "conn-two="}


def test_connect_without_an_authorized_client_is_refused(table):
    event = load_event("ws_connect_authorized")
    del event["requestContext"]["authorizer"]

    response = load_function("ws_connect").lambda_handler(event, FakeLambdaContext())

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
    response = load_function("ws_disconnect").lambda_handler(
        load_event("ws_disconnect_known"), FakeLambdaContext()
    )

    assert response["statusCode"] == 200
