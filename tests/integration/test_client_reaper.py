"""ClientReaperFunction against moto: a REMOVE on ClientsTable's stream (a TTL expiry, or the
DELETE route's own delete) closes the removed client's live sockets, deletes their rows and
removes a legacy poll client's subscription and queue (poll clients provisioned since have
neither); every step is idempotent, and a client that cannot be torn down fails only its own
record.

The REMOVE records of the first tests are moto's own, read from the table's stream (moto's
records have no ``userIdentity``; the reaper does not need one). botocore's account-based
endpoint for DynamoDB Streams is switched off: moto's in-process mock does not route it.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.stub import Stubber
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
from moto.core import DEFAULT_ACCOUNT_ID

from tests.support.api_aws import (
    SAMPLE_CLIENT_ID,
    WEBSOCKET_ENDPOINT,
    FakeLambdaContext,
    body_of,
    create_provisioner_stack,
    load_event,
    put_client,
    put_legacy_poll_client,
)
from tests.support.functions import load_function

MANAGEMENT_ENDPOINT = "https://" + WEBSOCKET_ENDPOINT.removeprefix("wss://")
OTHER_CLIENT_ID = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"
TTL_DELETER = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


@pytest.fixture
def stack(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    environment = create_provisioner_stack()
    # The template's StreamSpecification (OLD_IMAGE) on the table the tests create.
    boto3.client("dynamodb").update_table(
        TableName=environment["CLIENTS_TABLE"],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "OLD_IMAGE"},
    )
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


@pytest.fixture
def reaper(stack: dict[str, str]) -> ModuleType:
    return load_function("client_reaper")


def reap(reaper: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = reaper.lambda_handler(event, FakeLambdaContext())
    return response


def stream_records(table: str = "ClientsTable") -> list[dict[str, Any]]:
    """Every record of the table's stream so far, as the local cloud hands them to Lambda."""
    from localcloud.event_sources.dynamodb_stream import DynamoDBStreamEventSource

    arn = boto3.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams")
    source = DynamoDBStreamEventSource(
        streams=streams, sqs=None, invoke=lambda *_: None, function="f", function_arn="arn",
        stream_arn=arn, region="us-east-1",
    )  # fmt: skip
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records += [
            source.lambda_record(r) for r in streams.get_records(ShardIterator=iterator)["Records"]
        ]
    return records


def removals() -> list[dict[str, Any]]:
    return [r for r in stream_records() if r["eventName"] == "REMOVE"]


def live_sockets() -> set[str]:
    region = boto3.session.Session().region_name
    return set(apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID][region].connections)


def connect(connection_id: str, client_id: str = SAMPLE_CLIENT_ID) -> None:
    """A live socket (known to moto's @connections API) and its ConnectionsTable row."""
    boto3.client("apigatewaymanagementapi", endpoint_url=MANAGEMENT_ENDPOINT).post_to_connection(
        ConnectionId=connection_id, Data=b"hello"
    )
    boto3.client("dynamodb").put_item(
        TableName="ConnectionsTable",
        Item={
            "connection_id": {"S": connection_id},
            "client_id": {"S": client_id},
            "ttl": {"N": "4102444800"},
        },
    )


def connection_rows() -> set[str]:
    items = boto3.client("dynamodb").scan(TableName="ConnectionsTable")["Items"]
    return {item["connection_id"]["S"] for item in items}


def queues() -> list[str]:
    urls: list[str] = boto3.client("sqs").list_queues().get("QueueUrls", [])
    return urls


def subscriptions(topic_arn: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = boto3.client("sns").list_subscriptions_by_topic(
        TopicArn=topic_arn
    )["Subscriptions"]
    return found


def poll_client() -> str:
    """A poll client made by ProvisionerFunction itself (a row, nothing else)."""
    provisioner = load_function("provisioner")
    created = body_of(
        provisioner.lambda_handler(load_event("provisioner_poll"), FakeLambdaContext())
    )
    client_id: str = created["client_id"]
    return client_id


@pytest.fixture
def management(reaper: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """The @connections client the reaper gets, stubbed (moto never fails a delete)."""
    logic = importlib.import_module("client_reaper_logic")
    api = boto3.client("apigatewaymanagementapi", endpoint_url="https://stub.invalid/prod")
    monkeypatch.setattr(logic, "management_client", lambda endpoint: api)
    with Stubber(api) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def expire(reaper: Any, client_id: str) -> dict[str, Any]:
    """DynamoDB's TTL deletes the client's row; its stream's REMOVE reaches the reaper."""
    boto3.client("dynamodb").delete_item(
        TableName="ClientsTable", Key={"client_id": {"S": client_id}}
    )
    [removal] = removals()
    answer: dict[str, Any] = reap(reaper, {"Records": [{**removal, "userIdentity": TTL_DELETER}]})
    return answer


def test_an_expired_poll_client_leaves_nothing_behind(stack):
    # Given a poll client (which has no queue and no subscription) with two live sockets, and
    # another client's socket
    client_id = poll_client()
    reaper = load_function("client_reaper")
    connect("ConnOne1", client_id)
    connect("ConnTwo2", client_id)
    connect("ConnOther3", OTHER_CLIENT_ID)
    assert queues() == []
    assert subscriptions(stack["RESULTS_TOPIC_ARN"]) == []

    # When its row expires (DynamoDB's TTL deletes it) and the stream's REMOVE reaches the reaper
    response = expire(reaper, client_id)

    # Then its sockets are closed and forgotten, and nothing else is left
    assert response == {"batchItemFailures": []}
    assert live_sockets() == {"ConnOther3"}
    assert connection_rows() == {"ConnOther3"}
    assert queues() == []
    assert subscriptions(stack["RESULTS_TOPIC_ARN"]) == []


def test_an_expired_legacy_poll_client_has_its_queue_and_subscription_removed(stack):
    # Given a poll client from before poll mode read JobsTable (own queue and subscription),
    # with two live sockets, and another client's socket
    client_id = SAMPLE_CLIENT_ID
    put_legacy_poll_client(stack["RESULTS_TOPIC_ARN"], client_id)
    reaper = load_function("client_reaper")
    connect("ConnOne1", client_id)
    connect("ConnTwo2", client_id)
    connect("ConnOther3", OTHER_CLIENT_ID)
    assert len(queues()) == 1
    assert len(subscriptions(stack["RESULTS_TOPIC_ARN"])) == 1

    # When its row expires (DynamoDB's TTL deletes it) and the stream's REMOVE reaches the reaper
    response = expire(reaper, client_id)

    # Then its sockets are closed and forgotten, and its queue and subscription are gone
    assert response == {"batchItemFailures": []}
    assert live_sockets() == {"ConnOther3"}
    assert connection_rows() == {"ConnOther3"}
    assert queues() == []
    assert subscriptions(stack["RESULTS_TOPIC_ARN"]) == []


def test_motos_remove_record_carries_the_old_image_but_no_user_identity(stack):
    # Given a client row
    put_client("ClientsTable", SAMPLE_CLIENT_ID)

    # When it is deleted
    boto3.client("dynamodb").delete_item(
        TableName="ClientsTable", Key={"client_id": {"S": SAMPLE_CLIENT_ID}}
    )

    # Then moto's REMOVE has the keys and the old image, and no userIdentity (AWS sets one only
    # for TTL deletions): the reaper reads the image and needs nothing else
    [removal] = removals()
    assert removal["dynamodb"]["Keys"] == {"client_id": {"S": SAMPLE_CLIENT_ID}}
    assert removal["dynamodb"]["OldImage"]["client_id"] == {"S": SAMPLE_CLIENT_ID}
    assert isinstance(removal["dynamodb"]["ApproximateCreationDateTime"], int)
    assert "userIdentity" not in removal


def test_a_deleted_clients_remove_finds_nothing_left_and_succeeds(stack, reaper):
    # Given a legacy poll client already deleted through DELETE /clients/{id}, its tombstone
    # expired
    client_id = SAMPLE_CLIENT_ID
    put_legacy_poll_client(stack["RESULTS_TOPIC_ARN"], client_id)
    provisioner = load_function("provisioner")
    event = load_event("provisioner_delete_client")
    event["path"] = f"/clients/{client_id}"
    event["pathParameters"] = {"client_id": client_id}
    assert provisioner.lambda_handler(event, FakeLambdaContext())["statusCode"] == 204
    reaper = load_function("client_reaper")
    # (DELETE leaves a tombstone for the creation-rate window; DynamoDB's TTL then removes it)
    boto3.client("dynamodb").delete_item(
        TableName="ClientsTable", Key={"client_id": {"S": client_id}}
    )

    # When the stream's REMOVE for that tombstone reaches the reaper (twice: a redelivery)
    [removal] = removals()
    first = reap(reaper, {"Records": [removal]})
    second = reap(reaper, {"Records": [removal]})

    # Then both succeed with nothing to do
    assert first == second == {"batchItemFailures": []}
    assert queues() == []
    assert subscriptions(stack["RESULTS_TOPIC_ARN"]) == []


def test_the_sample_ttl_expiry_removes_the_clients_queue(reaper):
    # Given the queue the sample's old image names (moto's queue URLs have the AWS form)
    event = load_event("client_reaper_expired")
    image = event["Records"][0]["dynamodb"]["OldImage"]
    boto3.client("sqs").create_queue(
        QueueName=image["queue_url"]["S"].rsplit("/", 1)[-1], Attributes={"FifoQueue": "true"}
    )
    connect("ConnSample1", SAMPLE_CLIENT_ID)

    # When the sample REMOVE (a TTL deletion) is reaped
    response = reap(reaper, event)

    # Then the queue and the socket are gone (the subscription was already: that is fine too)
    assert response == {"batchItemFailures": []}
    assert queues() == []
    assert live_sockets() == set()
    assert connection_rows() == set()


def test_the_sample_delete_of_a_push_client_closes_its_socket(reaper):
    # Given a push client's live socket
    connect("ConnPush1", SAMPLE_CLIENT_ID)

    # When the sample REMOVE of a DELETE is reaped
    response = reap(reaper, load_event("client_reaper_deleted"))

    # Then the socket is closed and forgotten
    assert response == {"batchItemFailures": []}
    assert live_sockets() == set()
    assert connection_rows() == set()


def test_a_connection_already_gone_counts_as_closed(reaper, management):
    # Given a connection row whose socket is already gone
    boto3.client("dynamodb").put_item(
        TableName="ConnectionsTable",
        Item={"connection_id": {"S": "ConnGone1"}, "client_id": {"S": SAMPLE_CLIENT_ID}},
    )
    management.add_client_error(
        "delete_connection",
        service_error_code="GoneException",
        http_status_code=410,
        expected_params={"ConnectionId": "ConnGone1"},
    )

    # When the client's REMOVE is reaped
    response = reap(reaper, load_event("client_reaper_deleted"))

    # Then it succeeds and the stale row is gone
    assert response == {"batchItemFailures": []}
    assert connection_rows() == set()


def test_a_client_that_cannot_be_torn_down_fails_only_its_own_record(reaper, management):
    # Given two removed clients, the first with a socket the @connections API refuses to close
    stuck = load_event("client_reaper_deleted")["Records"][0]
    fine = copy.deepcopy(stuck)
    fine["dynamodb"]["Keys"]["client_id"]["S"] = OTHER_CLIENT_ID
    fine["dynamodb"]["OldImage"]["client_id"]["S"] = OTHER_CLIENT_ID
    fine["dynamodb"]["SequenceNumber"] = str(int(stuck["dynamodb"]["SequenceNumber"]) + 1)
    boto3.client("dynamodb").put_item(
        TableName="ConnectionsTable",
        Item={"connection_id": {"S": "ConnStuck1"}, "client_id": {"S": SAMPLE_CLIENT_ID}},
    )
    boto3.client("dynamodb").put_item(
        TableName="ConnectionsTable",
        Item={"connection_id": {"S": "ConnFine2"}, "client_id": {"S": OTHER_CLIENT_ID}},
    )
    management.add_client_error(
        "delete_connection",
        service_error_code="LimitExceededException",
        http_status_code=429,
        expected_params={"ConnectionId": "ConnStuck1"},
    )
    management.add_response("delete_connection", {}, {"ConnectionId": "ConnFine2"})

    # When both REMOVEs arrive in one batch
    response = reap(reaper, {"Records": [stuck, fine]})

    # Then only the first is reported failed (retried from its sequence number), its row stays
    # for the retry, and the second client's socket is closed
    assert response == {
        "batchItemFailures": [{"itemIdentifier": stuck["dynamodb"]["SequenceNumber"]}]
    }
    assert connection_rows() == {"ConnStuck1"}


def test_a_remove_without_the_old_image_fails_rather_than_leave_a_queue(reaper):
    # Given a REMOVE from a KEYS_ONLY stream (no old image: the queue is unknown)
    record = load_event("client_reaper_expired")["Records"][0]
    del record["dynamodb"]["OldImage"]

    # When it is reaped, alone and next to a good record
    with pytest.raises(BatchProcessingError):
        reap(reaper, {"Records": [record]})
    good = load_event("client_reaper_deleted")["Records"][0]
    response = reap(reaper, {"Records": [record, good]})

    # Then it fails (a batch of only failures fails the invocation, as Powertools does), so the
    # event source retries it and then records it in the failure queue
    assert response == {
        "batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]
    }


def test_a_record_that_removes_nothing_is_ignored(reaper):
    # Given an INSERT (the event source's filter passes only REMOVE; a direct invoke may not)
    record = load_event("client_reaper_deleted")["Records"][0]
    record["eventName"] = "INSERT"
    connect("ConnKept1", SAMPLE_CLIENT_ID)

    # When it is handled
    response = reap(reaper, {"Records": [record]})

    # Then it succeeds and touches nothing
    assert response == {"batchItemFailures": []}
    assert connection_rows() == {"ConnKept1"}
