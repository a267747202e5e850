"""The local cloud's DynamoDB stream event source and TTL sweeper, on moto (in-process): records
reach the function as Lambda shows them, filtered; failures bisect, retry a bounded number of
times and end in the on-failure destination; expired items are deleted, their REMOVE on the
stream."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from localcloud.event_filter import EventFilter
from localcloud.event_sources.dynamodb_stream import DynamoDBStreamEventSource
from localcloud.runtime import FunctionError
from localcloud.ttl_sweeper import TtlSweeper

NOW = 1_800_000_000


@pytest.fixture
def table(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    # moto's in-process mock does not route botocore's account-based Streams endpoint.
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    arn = boto3.client("dynamodb").create_table(
        TableName="Clients",
        KeySchema=[{"AttributeName": "client_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "client_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "OLD_IMAGE"},
    )["TableDescription"]["LatestStreamArn"]
    return arn


class Function:
    """A function that records its batches and fails the ones ``fails`` says."""

    def __init__(self, fails: Any = lambda ids: False, partial: Any = None) -> None:
        self.batches: list[list[str]] = []
        self.fails = fails
        self.partial = partial

    def __call__(self, function: str, event: dict[str, Any]) -> Any:
        ids = [r["dynamodb"]["Keys"]["client_id"]["S"] for r in event["Records"]]
        self.batches.append(ids)
        if self.fails(ids):
            raise FunctionError(function, "Error", f"failed {ids}", [])
        if self.partial:
            return {
                "batchItemFailures": [
                    {"itemIdentifier": r["dynamodb"]["SequenceNumber"]}
                    for r in event["Records"]
                    if self.partial(r["dynamodb"]["Keys"]["client_id"]["S"])
                ]
            }
        return None


def source(stream_arn: str, function: Function, **options: Any) -> DynamoDBStreamEventSource:
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="failures")["QueueUrl"]
    defaults: dict[str, Any] = {
        "streams": boto3.client("dynamodbstreams"),
        "sqs": sqs,
        "invoke": function,
        "function": "ReaperFunction",
        "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:reaper",
        "stream_arn": stream_arn,
        "region": "us-east-1",
        "starting_position": "TRIM_HORIZON",
        "on_failure_queue_url": queue,
        "idle_wait_seconds": 0,
    }
    return DynamoDBStreamEventSource(**(defaults | options))


def put_and_delete(*ids: str) -> None:
    dynamodb = boto3.client("dynamodb")
    for client_id in ids:
        dynamodb.put_item(TableName="Clients", Item={"client_id": {"S": client_id}})
    for client_id in ids:
        dynamodb.delete_item(TableName="Clients", Key={"client_id": {"S": client_id}})


def failures() -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="failures")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_only_the_removals_reach_the_function_as_lambda_shows_them(table):
    # Given inserts and removals on the stream, and the reaper's filter
    seen: list[dict[str, Any]] = []
    put_and_delete("a", "b")
    poller = source(
        table,
        Function(),
        event_filter=EventFilter([{"eventName": ["REMOVE"]}]),
        invoke=lambda f, event: seen.extend(event["Records"]),
    )

    # When the stream is polled
    poller.poll_once()

    # Then one batch held the two REMOVEs, as Lambda's records (source ARN, numeric date)
    assert [r["eventName"] for r in seen] == ["REMOVE", "REMOVE"]
    assert all(r["eventSourceARN"] == table and r["eventSource"] == "aws:dynamodb" for r in seen)
    assert all(isinstance(r["dynamodb"]["ApproximateCreationDateTime"], int) for r in seen)
    assert poller.invocations == 1
    assert poller.checkpoints  # past the filtered inserts too


def test_a_failing_record_is_isolated_by_bisection_then_sent_to_the_destination(table):
    # Given four removals, the third of which always fails
    put_and_delete("a", "b", "c", "d")
    function = Function(fails=lambda ids: "c" in ids)
    poller = source(
        table,
        function,
        event_filter=EventFilter([{"eventName": ["REMOVE"]}]),
        bisect_on_error=True,
        maximum_retry_attempts=1,
    )

    # When the stream is polled
    poller.poll_once()

    # Then the batch is halved until "c" is alone; "c" is retried once, then recorded
    assert function.batches == [["a", "b", "c", "d"], ["a", "b"], ["c", "d"], ["c"], ["c"], ["d"]]
    [record] = failures()
    info = record["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    assert info["streamArn"] == table
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"


def test_a_partial_batch_response_retries_from_the_first_failed_record(table):
    # Given removals where "b" is reported failed once
    put_and_delete("a", "b", "c")
    reported: set[str] = set()

    def fail_b_once(client_id: str) -> bool:
        if client_id == "b" and client_id not in reported:
            reported.add(client_id)
            return True
        return False

    function = Function(partial=fail_b_once)
    poller = source(
        table,
        function,
        event_filter=EventFilter([{"eventName": ["REMOVE"]}]),
        report_batch_item_failures=True,
        bisect_on_error=True,
    )

    # When the stream is polled
    poller.poll_once()

    # Then the retry starts at "b" (not bisected: the response said where), and nothing is lost
    assert function.batches == [["a", "b", "c"], ["b", "c"]]
    assert failures() == []


def test_the_sweeper_deletes_expired_items_only_and_the_stream_sees_the_remove(table):
    # Given TTL on, an expired item, a live one, one with a string "ttl" and a 6-year-old one
    dynamodb = boto3.client("dynamodb")
    dynamodb.update_time_to_live(
        TableName="Clients", TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
    )
    rows = {
        "expired": {"N": str(NOW - 1)},
        "live": {"N": str(NOW + 60)},
        "text": {"S": str(NOW - 1)},
        "ancient": {"N": str(NOW - 6 * 365 * 24 * 3600)},
    }
    for client_id, ttl in rows.items():
        dynamodb.put_item(TableName="Clients", Item={"client_id": {"S": client_id}, "ttl": ttl})
    sweeper = TtlSweeper(dynamodb=dynamodb, tables=["Clients"], clock=lambda: NOW)

    # When it sweeps
    deleted = sweeper.sweep_once()

    # Then only the expired item went, and the stream has its REMOVE with the old image
    assert deleted == 1
    left = {i["client_id"]["S"] for i in dynamodb.scan(TableName="Clients")["Items"]}
    assert left == {"live", "text", "ancient"}
    seen: list[dict[str, Any]] = []
    source(
        table,
        Function(),
        event_filter=EventFilter([{"eventName": ["REMOVE"]}]),
        invoke=lambda f, event: seen.extend(event["Records"]),
    ).poll_once()
    [removal] = seen
    assert removal["dynamodb"]["OldImage"]["ttl"] == {"N": str(NOW - 1)}
    assert "userIdentity" not in removal  # moto's record, read without the sweeper's claims


def test_a_removal_by_the_sweeper_carries_ttls_user_identity_and_a_delete_does_not(table):
    # Given TTL on, one expired item swept and another deleted by a caller
    dynamodb = boto3.client("dynamodb")
    dynamodb.update_time_to_live(
        TableName="Clients", TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
    )
    for client_id in ("expired", "deleted"):
        dynamodb.put_item(
            TableName="Clients",
            Item={"client_id": {"S": client_id}, "ttl": {"N": str(NOW - 1)}},
        )
    dynamodb.delete_item(TableName="Clients", Key={"client_id": {"S": "deleted"}})
    sweeper = TtlSweeper(dynamodb=dynamodb, tables=["Clients"], clock=lambda: NOW)
    sweeper.sweep_once()
    seen: list[dict[str, Any]] = []

    # When the stream reaches the function through the local event source
    source(
        table,
        Function(),
        event_filter=EventFilter([{"eventName": ["REMOVE"]}]),
        invoke=lambda f, event: seen.extend(event["Records"]),
        ttl_deletions=sweeper.claim,
    ).poll_once()

    # Then the sweep's REMOVE says DynamoDB's TTL did it, as on AWS, and the caller's does not
    identities = {r["dynamodb"]["Keys"]["client_id"]["S"]: r.get("userIdentity") for r in seen}
    assert identities == {
        "deleted": None,
        "expired": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
    }


def test_the_sweeper_leaves_tables_without_ttl_alone(table):
    # Given a table whose TTL is off and an item with a past "ttl"
    dynamodb = boto3.client("dynamodb")
    dynamodb.put_item(
        TableName="Clients", Item={"client_id": {"S": "x"}, "ttl": {"N": str(NOW - 1)}}
    )

    # When the sweeper runs / Then nothing is deleted
    assert TtlSweeper(dynamodb=dynamodb, tables=["Clients"], clock=lambda: NOW).sweep_once() == 0
