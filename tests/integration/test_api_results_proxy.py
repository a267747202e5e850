"""ResultsProxyFunction against moto: long-poll a client's queue, return results, delete them; only
for the client's owner (reading deletes, so not even an admin drains someone else's results)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType

import boto3
import pytest
from moto import mock_aws

from pipeline_common import aws
from pipeline_common.contracts.clients import PolledResults
from tests.support.functions import load_function
from tests.support.tenancy import ALICE, BOB, CAROL_ADMIN, as_user, without_claims
from tests.support.test_api_aws import (
    SAMPLE_CLIENT_ID,
    SAMPLE_OUTPUT_BUCKET,
    FakeLambdaContext,
    body_of,
    create_fifo_queue,
    create_table,
    drain,
    load_event,
    put_client,
)


@pytest.fixture
def cloud() -> Iterator[None]:
    with mock_aws():
        aws.clear_clients()
        yield
    aws.clear_clients()


@pytest.fixture
def client_queue(cloud) -> str:
    return create_fifo_queue(f"pipeline-client-{SAMPLE_CLIENT_ID}")


@pytest.fixture
def proxy(client_queue: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("CLIENTS_TABLE", create_table("ClientsTable"))
    monkeypatch.setenv("OUTPUT_BUCKET", SAMPLE_OUTPUT_BUCKET)
    monkeypatch.setenv("WAIT_TIME_SECONDS", "1")
    put_client("ClientsTable", SAMPLE_CLIENT_ID, owner=ALICE.sub, queue_url=client_queue)
    return load_function("results_proxy")


def sample_bodies() -> list[str]:
    return [record["body"] for record in load_event("result_push_batch")["Records"]]


def enqueue(queue_url: str, body: str, dedup: str) -> None:
    boto3.client("sqs").send_message(
        QueueUrl=queue_url,
        MessageBody=body,
        MessageGroupId=SAMPLE_CLIENT_ID,
        MessageDeduplicationId=dedup,
    )


def invoke(fn: ModuleType, event: dict) -> dict:
    return fn.lambda_handler(event, FakeLambdaContext())


def test_returns_the_clients_results_and_deletes_them(proxy, client_queue):
    # Given a DONE and a FAILED result waiting in the client's queue
    for index, body in enumerate(sample_bodies()):
        enqueue(client_queue, body, f"dedup-{index}")

    # When the client polls
    response = invoke(proxy, load_event("results_proxy_poll"))

    # Then both come back, the DONE one with signed links, and the queue is empty
    assert response["statusCode"] == 200
    polled = PolledResults.model_validate_json(response["body"])
    assert [r.status for r in polled.results] == ["DONE", "FAILED"]
    assert polled.results[0].overlay_url is not None
    assert polled.results[1].overlay_url is None
    assert polled.discarded == 0
    assert drain(client_queue) == []


def test_a_message_that_is_not_a_result_is_discarded_not_returned(proxy, client_queue):
    # Given garbage ahead of a real result in the same FIFO group
    enqueue(client_queue, '{"kind": "job.result", "job_id": "trunc', "dedup-garbage")
    enqueue(client_queue, sample_bodies()[0], "dedup-real")

    polled = PolledResults.model_validate_json(
        invoke(proxy, load_event("results_proxy_poll"))["body"]
    )

    # Then the result is returned, the garbage counted, and neither blocks the queue again
    assert [r.job_id for r in polled.results] == [json.loads(sample_bodies()[0])["job_id"]]
    assert polled.discarded == 1
    assert drain(client_queue) == []


def test_an_empty_queue_returns_no_results(proxy):
    response = invoke(proxy, load_event("results_proxy_poll"))

    assert response["statusCode"] == 200
    assert body_of(response) == {"results": [], "discarded": 0}


def test_missing_client_id_is_400(proxy):
    response = invoke(proxy, load_event("results_proxy_missing_client"))

    assert response["statusCode"] == 400
    assert body_of(response)["error"]["field"] == "client_id"


def test_unknown_client_is_404(proxy):
    event = load_event("results_proxy_poll")
    event["queryStringParameters"]["client_id"] = "0000000000000000deadbeef"

    response = invoke(proxy, event)

    assert response["statusCode"] == 404


def test_a_push_client_is_told_to_use_the_websocket(proxy):
    put_client("ClientsTable", "push0000client0000id", owner=ALICE.sub)
    event = load_event("results_proxy_poll")
    event["queryStringParameters"]["client_id"] = "push0000client0000id"

    response = invoke(proxy, event)

    assert response["statusCode"] == 400
    assert body_of(response)["error"]["code"] == "not_a_polling_client"


def test_a_bad_wait_is_400_naming_it(proxy):
    event = load_event("results_proxy_poll")
    event["queryStringParameters"]["wait_seconds"] = "forever"

    response = invoke(proxy, event)

    assert response["statusCode"] == 400
    assert body_of(response)["error"]["field"] == "wait_seconds"


def refused(proxy: ModuleType, event: dict) -> dict:
    response = invoke(proxy, event)
    assert response["statusCode"] == 404, response
    return body_of(response)


def missing_client_answer(proxy: ModuleType) -> dict:
    event = load_event("results_proxy_poll")
    event["queryStringParameters"]["client_id"] = "0000000000000000deadbeef"
    return refused(proxy, event)


@pytest.mark.parametrize("user", [BOB, CAROL_ADMIN], ids=["another-user", "admin"])
def test_nobody_but_the_owner_can_drain_a_clients_results(proxy, client_queue, user):
    # Given Alice's results waiting in her client's queue
    for index, body in enumerate(sample_bodies()):
        enqueue(client_queue, body, f"dedup-{index}")

    # When another user, or an admin, polls her client
    answer = refused(proxy, as_user(load_event("results_proxy_poll"), user))

    # Then it is the same 404 as for a client that does not exist, and her results are still there
    assert answer == missing_client_answer(proxy)
    assert len(drain(client_queue)) == len(sample_bodies())


def test_an_expired_client_is_the_same_404(proxy):
    # Given a polling client of Alice's past its TTL (DynamoDB has not deleted the row yet)
    queue = create_fifo_queue("pipeline-client-a11ce000expired0000")
    put_client(
        "ClientsTable", "a11ce000expired0000", owner=ALICE.sub, queue_url=queue, ttl=1_700_000_000
    )
    event = load_event("results_proxy_poll")
    event["queryStringParameters"]["client_id"] = "a11ce000expired0000"

    assert refused(proxy, event) == missing_client_answer(proxy)


def test_a_request_without_verified_claims_is_401_and_drains_nothing(proxy, client_queue):
    enqueue(client_queue, sample_bodies()[0], "dedup-0")

    response = invoke(proxy, without_claims(load_event("results_proxy_poll")))

    assert response["statusCode"] == 401
    assert len(drain(client_queue)) == 1
