"""ProvisionerFunction against moto: clients, tokens, and a polling client's own queue."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from types import ModuleType

import boto3
import pytest
from moto import mock_aws

from pipeline_common import aws, tokens
from tests.support.functions import load_function
from tests.support.test_api_aws import (
    SAMPLE_SIGNING_KEY,
    FakeLambdaContext,
    body_of,
    create_clients_table,
    create_results_topic,
    create_signing_secret,
    drain,
    load_event,
)

PREFIX = "pipeline-test"


@pytest.fixture
def cloud() -> Iterator[None]:
    with mock_aws():
        aws.clear_clients()
        tokens.forget_signing_keys()
        yield
    aws.clear_clients()
    tokens.forget_signing_keys()


@pytest.fixture
def topic_arn(cloud) -> str:
    return create_results_topic()


@pytest.fixture
def provisioner(topic_arn: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("CLIENTS_TABLE", create_clients_table())
    monkeypatch.setenv("RESULTS_TOPIC_ARN", topic_arn)
    monkeypatch.setenv("TOKEN_SECRET_ARN", create_signing_secret())
    monkeypatch.setenv("CLIENT_QUEUE_PREFIX", PREFIX)
    monkeypatch.setenv("CLIENT_TTL_DAYS", "7")
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


def test_push_client_gets_a_token_that_verifies_and_no_queue(provisioner):
    # When a push client is provisioned
    response = invoke(provisioner, load_event("provisioner_push"))

    # Then it has an id and a token signed with the secret, and no queue was made
    assert response["statusCode"] == 201
    created = body_of(response)
    assert created["delivery"] == "push"
    assert "queue_url" not in created
    expiry = tokens.verify(created["client_id"], created["token"], SAMPLE_SIGNING_KEY.encode())
    assert datetime.fromisoformat(created["token_expires_at"]) == datetime.fromtimestamp(
        expiry, UTC
    )
    record = client_record(created["client_id"])
    assert record["delivery"]["S"] == "push"
    assert "queue_url" not in record
    assert boto3.client("sqs").list_queues().get("QueueUrls", []) == []


def test_poll_client_gets_its_own_filtered_fifo_queue(provisioner, topic_arn):
    # When a polling client is provisioned
    response = invoke(provisioner, load_event("provisioner_poll"))

    # Then its FIFO queue exists, is named after it, and only the results topic may send to it
    assert response["statusCode"] == 201
    created = body_of(response)
    client_id, queue_url = created["client_id"], created["queue_url"]
    assert queue_url.endswith(f"/{PREFIX}-client-{client_id}.fifo")
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["All"]
    )["Attributes"]
    assert attributes["FifoQueue"] == "true"
    statement = json.loads(attributes["Policy"])["Statement"][0]
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == topic_arn
    record = client_record(client_id)
    assert record["queue_url"]["S"] == queue_url
    subscription = boto3.client("sns").get_subscription_attributes(
        SubscriptionArn=record["subscription_arn"]["S"]
    )["Attributes"]
    assert subscription["RawMessageDelivery"] == "true"
    assert json.loads(subscription["FilterPolicy"]) == {"client_id": [client_id]}


def test_poll_queue_receives_only_its_clients_results(provisioner, topic_arn):
    # Given two polling clients
    first = body_of(invoke(provisioner, load_event("provisioner_poll")))
    second = body_of(invoke(provisioner, load_event("provisioner_poll")))

    # When a result for the first is published to the topic
    publish_result(topic_arn, first["client_id"], "job-for-the-first-client")

    # Then it arrives raw in the first client's queue only
    [delivered] = drain(first["queue_url"])
    assert json.loads(delivered["Body"])["job_id"] == "job-for-the-first-client"
    assert drain(second["queue_url"]) == []


def test_unknown_delivery_mode_is_400(provisioner):
    response = invoke(provisioner, load_event("provisioner_invalid_delivery"))

    assert response["statusCode"] == 400
    assert body_of(response)["error"]["field"] == "delivery"
    assert boto3.client("dynamodb").scan(TableName="ClientsTable")["Count"] == 0


def test_empty_body_provisions_a_push_client(provisioner):
    event = load_event("provisioner_push")
    event["body"] = None

    response = invoke(provisioner, event)

    assert response["statusCode"] == 201
    assert body_of(response)["delivery"] == "push"


def test_failed_subscription_leaves_nothing_behind(cloud, monkeypatch):
    # Given a results topic that does not exist
    monkeypatch.setenv("CLIENTS_TABLE", create_clients_table())
    monkeypatch.setenv(
        "RESULTS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:missing-ResultsTopic.fifo"
    )
    monkeypatch.setenv("TOKEN_SECRET_ARN", create_signing_secret())
    monkeypatch.setenv("CLIENT_QUEUE_PREFIX", PREFIX)
    provisioner = load_function("provisioner")

    # When a polling client is provisioned
    response = invoke(provisioner, load_event("provisioner_poll"))

    # Then the request fails retryably and neither a queue nor a record remains
    assert response["statusCode"] == 503
    assert boto3.client("sqs").list_queues().get("QueueUrls", []) == []
    assert boto3.client("dynamodb").scan(TableName="ClientsTable")["Count"] == 0


def test_a_prefix_too_long_for_queue_names_fails_at_start(cloud, monkeypatch):
    monkeypatch.setenv("CLIENTS_TABLE", "ClientsTable")
    monkeypatch.setenv("RESULTS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:Results.fifo")
    monkeypatch.setenv("TOKEN_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:s")
    monkeypatch.setenv("CLIENT_QUEUE_PREFIX", "p" * 36)

    with pytest.raises(ValueError, match="client_queue_prefix"):
        load_function("provisioner")
