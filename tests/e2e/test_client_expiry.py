"""An expired client leaves nothing behind (issues 10 and 12), on the local cloud: when its
ClientsTable row's ``ttl`` passes, the local TTL sweep deletes the row, the table's stream hands
the REMOVE to ClientReaperFunction, and the reaper closes the client's live WebSocket (the server
closes the socket), deletes its connection rows, and removes a legacy poll client's queue and
subscription (poll clients provisioned since have neither), all within a bounded wait."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.exceptions import ClientError
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from localcloud.cloud import LocalCloud
from pipeline_common.tables.connections import CLIENT_INDEX
from tests.e2e.conftest import RestApi
from tests.support.users import StackUser
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

# The local TTL sweep runs every 2 s and the stream poller within a second; a cold reaper adds
# a few seconds. AWS's own sweep takes up to days: this bound is the local cloud's.
EXPIRY_BOUND_SECONDS = 30


@pytest.fixture(scope="module")
def erin(new_user: Callable[..., StackUser]) -> StackUser:
    return new_user("erin")


def _client(rest: RestApi, user: StackUser, delivery: str) -> dict[str, Any]:
    response = rest("POST", "/clients", user=user, json={"delivery": delivery})
    assert response.status_code == 201, response.text
    return response.json()


def _expire(stack: LocalCloud, client_id: str) -> None:
    """Move the client's expiry into the past, as time passing would."""
    stack.client("dynamodb").update_item(
        TableName=stack.outputs["ClientsTableName"],
        Key={"client_id": {"S": client_id}},
        UpdateExpression="SET #ttl = :past",
        ConditionExpression="attribute_exists(client_id)",
        ExpressionAttributeNames={"#ttl": "ttl"},
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )


def _connections_of(stack: LocalCloud, client_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = stack.client("dynamodb").query(
        TableName=stack.outputs["ConnectionsTableName"],
        IndexName=CLIENT_INDEX,
        KeyConditionExpression="client_id = :c",
        ExpressionAttributeValues={":c": {"S": client_id}},
    )["Items"]
    return items


def _row(stack: LocalCloud, client_id: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = (
        stack.client("dynamodb")
        .get_item(
            TableName=stack.outputs["ClientsTableName"],
            Key={"client_id": {"S": client_id}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return item


def _queue_exists(stack: LocalCloud, queue_url: str) -> bool:
    try:
        stack.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    except ClientError:
        return False
    return True


def _queue_arn(stack: LocalCloud, queue_url: str) -> str:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]
    return str(attributes["QueueArn"])


def _subscribed(stack: LocalCloud, queue_arn: str) -> bool:
    pages = (
        stack.client("sns")
        .get_paginator("list_subscriptions_by_topic")
        .paginate(TopicArn=stack.outputs["ResultsTopicArn"])
    )
    return any(s["Endpoint"] == queue_arn for page in pages for s in page["Subscriptions"])


def test_an_expired_push_client_has_its_socket_closed_by_the_server(stack, rest, erin):
    # Given a push client with an open socket
    client = _client(rest, erin, "push")
    url = f"{stack.outputs['WebsocketUrl']}?{urlencode({'ticket': client['ticket']})}"
    with connect(url, open_timeout=60) as socket:
        wait_for(lambda: _connections_of(stack, client["client_id"]), timeout=10, what="the row")

        # When the client expires
        _expire(stack, client["client_id"])

        # Then the server closes the socket within the bound
        started = time.monotonic()
        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=EXPIRY_BOUND_SECONDS)
        assert time.monotonic() - started < EXPIRY_BOUND_SECONDS

    # And the client and its connection rows are gone
    assert _row(stack, client["client_id"]) is None
    wait_for(
        lambda: not _connections_of(stack, client["client_id"]),
        timeout=EXPIRY_BOUND_SECONDS,
        what="the connection rows to go",
    )


def _subscription_count(stack: LocalCloud) -> int:
    pages = (
        stack.client("sns")
        .get_paginator("list_subscriptions_by_topic")
        .paginate(TopicArn=stack.outputs["ResultsTopicArn"])
    )
    return sum(len(page["Subscriptions"]) for page in pages)


def _no_reaper_failures(stack: LocalCloud) -> bool:
    failures = stack.client("sqs").receive_message(
        QueueUrl=stack.outputs["ClientReaperFailureQueueUrl"], WaitTimeSeconds=0
    )
    return failures.get("Messages", []) == []


def test_a_poll_client_has_nothing_but_its_row_and_expiry_removes_it(stack, rest, erin):
    # Given a poll client (GET /results reads JobsTable: no queue, no subscription)
    subscriptions = _subscription_count(stack)
    client = _client(rest, erin, "poll")
    assert client.get("queue_url") is None
    assert _subscription_count(stack) == subscriptions

    # When the client expires
    _expire(stack, client["client_id"])

    # Then its row is gone within the bound, and nothing failed
    wait_for(
        lambda: _row(stack, client["client_id"]) is None,
        timeout=EXPIRY_BOUND_SECONDS,
        what="the poll client's row to be removed",
    )
    assert _no_reaper_failures(stack)


def test_an_expired_legacy_poll_client_has_no_queue_or_subscription_left(stack, erin):
    # Given a poll client provisioned before poll mode read JobsTable, as an upgraded stack
    # still has them: its own FIFO queue subscribed to the results topic, named in its row
    client_id = f"legacy{int(time.time() * 1000):x}"
    sqs, sns = stack.client("sqs"), stack.client("sns")
    queue_url = sqs.create_queue(
        QueueName=f"{stack.stack_name}-client-{client_id}.fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    queue_arn = _queue_arn(stack, queue_url)
    subscription_arn = sns.subscribe(
        TopicArn=stack.outputs["ResultsTopicArn"],
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={
            "RawMessageDelivery": "true",
            "FilterPolicy": f'{{"client_id": ["{client_id}"]}}',
        },
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    stack.client("dynamodb").put_item(
        TableName=stack.outputs["ClientsTableName"],
        Item={
            "client_id": {"S": client_id},
            "owner": {"S": erin.sub},
            "delivery": {"S": "poll"},
            "created_at": {"S": "2026-01-19T09:15:00.000000+00:00"},
            "ttl": {"N": str(int(time.time()) + 3600)},
            "queue_url": {"S": queue_url},
            "subscription_arn": {"S": subscription_arn},
        },
    )
    assert _subscribed(stack, queue_arn)

    # When the client expires
    _expire(stack, client_id)

    # Then its row, queue and subscription are gone within the bound, and nothing failed
    wait_for(
        lambda: not _queue_exists(stack, queue_url),
        timeout=EXPIRY_BOUND_SECONDS,
        what="the legacy poll client's queue to be deleted",
    )
    assert _row(stack, client_id) is None
    assert not _subscribed(stack, queue_arn)
    assert _no_reaper_failures(stack)
