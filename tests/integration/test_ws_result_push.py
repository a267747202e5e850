"""ResultPushFunction against moto's DynamoDB, with the @connections API stubbed (botocore Stubber):
moto accepts post_to_connection but delivers nothing and never answers GoneException."""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Iterator
from types import ModuleType

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ReadTimeoutError
from botocore.stub import ANY, Stubber

from pipeline_common.contracts.clients import DeliveredResult
from tests.support.api_aws import (
    SAMPLE_CLIENT_ID,
    SAMPLE_OUTPUT_BUCKET,
    FakeLambdaContext,
    create_connections_table,
    load_event,
)
from tests.support.functions import load_function

WEBSOCKET_ENDPOINT = "wss://wsapi12345.execute-api.us-east-1.amazonaws.com/prod"


@pytest.fixture
def push(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("CONNECTIONS_TABLE", create_connections_table())
    monkeypatch.setenv("WEBSOCKET_ENDPOINT", WEBSOCKET_ENDPOINT)
    monkeypatch.setenv("OUTPUT_BUCKET", SAMPLE_OUTPUT_BUCKET)
    return load_function("result_push")


@pytest.fixture
def management(push: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """The @connections client the function gets, stubbed; records the endpoint it asked for."""
    logic = importlib.import_module("result_push_logic")
    endpoints: list[str] = []
    api = boto3.client("apigatewaymanagementapi", endpoint_url="https://stub.invalid/prod")

    def stubbed(endpoint: str):
        endpoints.append(endpoint)
        return api

    monkeypatch.setattr(logic, "management_client", stubbed)
    with Stubber(api) as stubber:
        stubber.endpoints = endpoints  # type: ignore[attr-defined]
        yield stubber
        stubber.assert_no_pending_responses()


def add_connection(connection_id: str, client_id: str = SAMPLE_CLIENT_ID) -> None:
    boto3.client("dynamodb").put_item(
        TableName="ConnectionsTable",
        Item={
            "connection_id": {"S": connection_id},
            "client_id": {"S": client_id},
            "connected_at": {"S": "2026-01-19T09:16:01+00:00"},
            "ttl": {"N": "4102444800"},
        },
    )


def remaining_connections() -> set[str]:
    items = boto3.client("dynamodb").scan(TableName="ConnectionsTable")["Items"]
    return {item["connection_id"]["S"] for item in items}


def emitted_metrics(output: str) -> dict[str, list[float]]:
    """Sum of each metric over the EMF blobs Powertools printed."""
    totals: dict[str, list[float]] = {}
    for line in output.splitlines():
        if not line.startswith("{") or "_aws" not in line:
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == "ImageVideoPipeline"
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                totals.setdefault(metric["Name"], []).extend(
                    value if isinstance(value, list) else [value]
                )
    return totals


def one_record_event(index: int = 0) -> dict:
    event = load_event("result_push_batch")
    event["Records"] = [event["Records"][index]]
    return event


def test_each_live_connection_gets_the_result_and_gone_ones_are_removed(push, management, capsys):
    # Given a client with one live connection and one that went away
    add_connection("live-conn=")
    add_connection("gone-conn=")
    add_connection("other-client-conn=", client_id="b" * 32)
    management.add_response("post_to_connection", {}, {"ConnectionId": ANY, "Data": ANY})
    management.add_client_error(
        "post_to_connection", service_error_code="GoneException", http_status_code=410
    )

    # When the DONE result is pushed
    response = push.lambda_handler(one_record_event(0), FakeLambdaContext())

    # Then the record succeeds, the gone connection is deleted, the other client's untouched
    assert response == {"batchItemFailures": []}
    remaining = remaining_connections()
    assert "other-client-conn=" in remaining
    assert len(remaining & {"live-conn=", "gone-conn="}) == 1
    assert management.endpoints == ["https://wsapi12345.execute-api.us-east-1.amazonaws.com/prod"]
    metrics = emitted_metrics(capsys.readouterr().out)
    assert sum(metrics["PushSuccess"]) == 1
    assert sum(metrics["Disconnected"]) == 1
    assert "PushFailures" not in metrics


def test_the_pushed_payload_is_the_result_with_signed_links(push, management):
    add_connection("live-conn=")
    pushed: list[bytes] = []
    management.client.meta.events.register(
        "provide-client-params.apigatewaymanagementapi.PostToConnection",
        lambda params, **_: pushed.append(params["Data"]),
    )
    management.add_response("post_to_connection", {}, {"ConnectionId": "live-conn=", "Data": ANY})

    push.lambda_handler(one_record_event(0), FakeLambdaContext())

    [payload] = pushed
    delivered = DeliveredResult.model_validate_json(payload)
    expected = json.loads(one_record_event(0)["Records"][0]["body"])
    assert delivered.job_id == expected["job_id"]
    assert delivered.overlay_url is not None
    assert expected["outputs"]["overlay"]["key"] in delivered.overlay_url


def two_clients_event() -> dict:
    """The sample batch with its second result moved to another client (another FIFO group)."""
    event = load_event("result_push_batch")
    other = event["Records"][1]
    body = json.loads(other["body"])
    body["client_id"] = "b" * 32
    other["body"] = json.dumps(body)
    other["attributes"]["MessageGroupId"] = "b" * 32
    return event


def test_any_other_push_failure_fails_the_record_for_a_retry(push, management, capsys):
    # Given a connection that API Gateway refuses to post to (throttled), in a two-client batch
    add_connection("live-conn=")
    management.add_client_error(
        "post_to_connection", service_error_code="LimitExceededException", http_status_code=429
    )
    event = two_clients_event()

    # When the batch is pushed
    response = push.lambda_handler(event, FakeLambdaContext())

    # Then only that record is reported failed (SQS retries it), and the connection is kept
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert remaining_connections() == {"live-conn="}
    assert sum(emitted_metrics(capsys.readouterr().out)["PushFailures"]) == 1


def test_a_batch_that_fails_entirely_is_retried_entirely(push, management):
    # Given the only record's push fails
    add_connection("live-conn=")
    management.add_client_error(
        "post_to_connection", service_error_code="ForbiddenException", http_status_code=403
    )

    # Then the invocation fails, which returns the whole batch to the queue
    with pytest.raises(BatchProcessingError):
        push.lambda_handler(one_record_event(0), FakeLambdaContext())


def test_a_body_that_is_not_a_result_fails_only_its_own_record(push, management):
    # Given a batch whose second record (another client's group) is truncated JSON
    add_connection("live-conn=")
    management.add_response("post_to_connection", {}, {"ConnectionId": "live-conn=", "Data": ANY})
    event = load_event("result_push_partial_failure")

    response = push.lambda_handler(event, FakeLambdaContext())

    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}


def test_a_client_with_no_connection_is_a_success(push, management):
    # Given nobody connected (the result stays readable through GET /jobs/{id})
    response = push.lambda_handler(load_event("result_push_batch"), FakeLambdaContext())

    assert response == {"batchItemFailures": []}


class RecordingApi:
    """An @connections client for what moto and Stubber cannot do: posts that run at the same
    time (the ``together`` connections each wait at a barrier that only all of them passing at
    once can cross) and a connection that never answers (botocore's read timeout)."""

    class exceptions:
        class GoneException(Exception):
            pass

    def __init__(self, together: set[str], timing_out: frozenset[str] = frozenset()) -> None:
        self.together = together
        self.barrier = threading.Barrier(len(together), timeout=10)
        self.timing_out = timing_out
        self.posted: list[str] = []

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> dict:
        if ConnectionId in self.together:
            self.barrier.wait()  # BrokenBarrierError if the posts were made one after another
        if ConnectionId in self.timing_out:
            raise ReadTimeoutError(endpoint_url=f"https://stub.invalid/@connections/{ConnectionId}")
        self.posted.append(ConnectionId)
        return {}


def use(api: RecordingApi, monkeypatch: pytest.MonkeyPatch) -> None:
    logic = importlib.import_module("result_push_logic")
    monkeypatch.setattr(logic, "management_client", lambda _endpoint: api)


def test_a_clients_connections_are_posted_to_at_the_same_time(push, monkeypatch):
    # Given a client with three connections
    tabs = {"tab-1=", "tab-2=", "tab-3="}
    for connection_id in tabs:
        add_connection(connection_id)
    api = RecordingApi(together=tabs)
    use(api, monkeypatch)

    # When its result is pushed
    response = push.lambda_handler(one_record_event(0), FakeLambdaContext())

    # Then all three posts were in flight together, and each got the result
    assert response == {"batchItemFailures": []}
    assert sorted(api.posted) == sorted(tabs)


def test_a_connection_that_times_out_fails_only_its_own_record(push, monkeypatch, capsys):
    # Given a client whose second connection never answers, and another client in the batch
    add_connection("live-conn=")
    add_connection("stuck-conn=")
    add_connection("other-conn=", client_id="b" * 32)
    api = RecordingApi(
        together={"live-conn=", "stuck-conn="}, timing_out=frozenset({"stuck-conn="})
    )
    use(api, monkeypatch)
    event = two_clients_event()

    # When the batch is pushed
    response = push.lambda_handler(event, FakeLambdaContext())

    # Then the live connection still got it, only the first record is retried, the other client
    # got its own result, and no connection row was removed
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert sorted(api.posted) == ["live-conn=", "other-conn="]
    assert remaining_connections() == {"live-conn=", "stuck-conn=", "other-conn="}
    assert sum(emitted_metrics(capsys.readouterr().out)["PushFailures"]) == 1
