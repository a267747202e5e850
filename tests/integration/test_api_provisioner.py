"""ProvisionerFunction's ``POST /clients`` against moto: a client bound to its caller and a first
one-time ticket; a polling client gets no queue and no subscription (GET /results reads
JobsTable); a failure leaves nothing behind."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from types import ModuleType

import boto3
import pytest

from pipeline_common import tickets
from tests.support.api_aws import (
    FakeLambdaContext,
    body_of,
    create_provisioner_stack,
    load_event,
    table_items,
)
from tests.support.functions import load_function
from tests.support.tenancy import ALICE, BOB, as_user, without_claims


@pytest.fixture
def cloud(mocked_aws: None) -> None:
    """moto for every AWS call of the test (the root ``mocked_aws``)."""


@pytest.fixture
def stack(cloud, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    environment = create_provisioner_stack()
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


@pytest.fixture
def provisioner(stack) -> ModuleType:
    return load_function("provisioner")


def invoke(fn: ModuleType, event: dict) -> dict:
    return fn.lambda_handler(event, FakeLambdaContext())


def client_record(client_id: str) -> dict:
    return boto3.client("dynamodb").get_item(
        TableName="ClientsTable", Key={"client_id": {"S": client_id}}
    )["Item"]


def publish_result(topic_arn: str, client_id: str, job_id: str) -> None:
    boto3.client("sns").publish(
        TopicArn=topic_arn,
        Message=json.dumps({"job_id": job_id, "client_id": client_id}),
        MessageAttributes={"client_id": {"DataType": "String", "StringValue": client_id}},
        MessageGroupId=client_id,
        MessageDeduplicationId=job_id,
    )


def test_push_client_is_bound_to_the_caller_with_a_first_ticket(provisioner):
    # Given Alice's request for a push client
    event = load_event("provisioner_push")

    # When it is provisioned
    response = invoke(provisioner, event)

    # Then the client is Alice's, it has no queue, and a one-time ticket opens its WebSocket
    assert response["statusCode"] == 201
    created = body_of(response)
    assert created["delivery"] == "push"
    assert "queue_url" not in created
    assert created["websocket_url"] == "wss://wsapi12345.execute-api.us-east-1.amazonaws.com/prod"
    record = client_record(created["client_id"])
    assert record["owner"]["S"] == ALICE.sub
    assert record["delivery"]["S"] == "push"
    assert "queue_url" not in record
    assert boto3.client("sqs").list_queues().get("QueueUrls", []) == []
    [ticket] = table_items("TicketsTable")
    assert ticket["ticket_hash"]["S"] == tickets.ticket_hash(created["ticket"])
    assert ticket["client_id"]["S"] == created["client_id"]
    assert ticket["owner"]["S"] == ALICE.sub


def test_the_first_ticket_expires_within_a_minute(provisioner):
    # When a client is provisioned
    before = datetime.now().astimezone()
    created = body_of(invoke(provisioner, load_event("provisioner_push")))

    # Then its ticket is valid for 60 s at most, and the table holds the same expiry
    expires_at = datetime.fromisoformat(created["ticket_expires_at"])
    assert expires_at <= before + timedelta(seconds=61)
    [ticket] = table_items("TicketsTable")
    assert int(ticket["expires_at"]["N"]) == int(expires_at.timestamp())


def test_the_ticket_is_stored_only_as_its_hash(provisioner):
    # When a client is provisioned
    created = body_of(invoke(provisioner, load_event("provisioner_push")))

    # Then no table holds the ticket itself
    stored = json.dumps([table_items(t) for t in ("TicketsTable", "ClientsTable")])
    assert created["ticket"] not in stored


def test_the_client_belongs_to_whoever_the_claims_name(provisioner):
    # When Bob sends the same request
    created = body_of(invoke(provisioner, as_user(load_event("provisioner_push"), BOB)))

    # Then the client is Bob's
    assert client_record(created["client_id"])["owner"]["S"] == BOB.sub


def test_a_request_without_a_verified_user_is_401_and_creates_nothing(provisioner):
    # When the request arrives without authorizer claims
    response = invoke(provisioner, without_claims(load_event("provisioner_poll")))

    # Then it is refused and nothing exists
    assert response["statusCode"] == 401
    assert table_items("ClientsTable") == []
    assert table_items("TicketsTable") == []
    assert boto3.client("sqs").list_queues().get("QueueUrls", []) == []


def test_an_owner_in_the_body_is_refused(provisioner):
    # Given a body that tries to name the client's owner
    event = load_event("provisioner_push")
    event["body"] = json.dumps({"delivery": "push", "owner": BOB.sub})

    # When it is sent
    response = invoke(provisioner, event)

    # Then it is a 400 (unknown field), not a client of Bob's
    assert response["statusCode"] == 400
    assert table_items("ClientsTable") == []


def test_a_poll_client_gets_no_queue_and_no_subscription(provisioner, stack):
    # When polling clients are provisioned
    responses = [invoke(provisioner, load_event("provisioner_poll")) for _ in range(3)]

    # Then each is Alice's poll client, and nothing else exists for them: no queue, no
    # subscription on the results topic (GET /results reads JobsTable)
    assert [r["statusCode"] for r in responses] == [201, 201, 201]
    for created in map(body_of, responses):
        assert created["delivery"] == "poll"
        assert "queue_url" not in created
        record = client_record(created["client_id"])
        assert record["owner"]["S"] == ALICE.sub
        assert record["delivery"]["S"] == "poll"
        assert "queue_url" not in record
        assert "subscription_arn" not in record
    assert boto3.client("sqs").list_queues().get("QueueUrls", []) == []
    subscriptions = boto3.client("sns").list_subscriptions_by_topic(
        TopicArn=stack["RESULTS_TOPIC_ARN"]
    )["Subscriptions"]
    assert subscriptions == []


def test_unknown_delivery_mode_is_400(provisioner):
    # When the body names an unknown delivery mode
    response = invoke(provisioner, load_event("provisioner_invalid_delivery"))

    # Then the field is named and nothing was created
    assert response["statusCode"] == 400
    assert body_of(response)["error"]["field"] == "delivery"
    assert table_items("ClientsTable") == []
    assert table_items("TicketsTable") == []


def test_empty_body_provisions_a_push_client(provisioner):
    # Given a request without a body
    event = load_event("provisioner_push")
    event["body"] = None

    # When it is sent
    response = invoke(provisioner, event)

    # Then a push client is made
    assert response["statusCode"] == 201
    assert body_of(response)["delivery"] == "push"


def test_a_failed_ticket_rolls_back_the_client(cloud, monkeypatch):
    # Given a tickets table that does not exist
    environment = create_provisioner_stack(TICKETS_TABLE="MissingTicketsTable")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    provisioner = load_function("provisioner")

    # When a polling client is provisioned
    response = invoke(provisioner, load_event("provisioner_poll"))

    # Then the request fails retryably and the client is gone
    assert response["statusCode"] == 503
    assert table_items("ClientsTable") == []


def test_a_ticket_lifetime_over_a_minute_fails_at_start(cloud, monkeypatch):
    # Given tickets configured to live five minutes
    for name, value in create_provisioner_stack(TICKET_TTL_SECONDS="300").items():
        monkeypatch.setenv(name, value)

    # When the function starts, then its settings refuse the lifetime
    with pytest.raises(ValueError, match="ticket_ttl_seconds"):
        load_function("provisioner")
