"""Helpers for the job API and WebSocket tests: sample events from ``events/``, the tables, tickets,
topic and queues those functions use (created under moto), and a Lambda context.

Every table is created from ``template.yaml``'s own properties (``tests.support.tables``).

No tests live here; the name only keeps the file inside the job API's test prefix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from pipeline_common import tickets
from pipeline_common.tables.clients import ClientRecord
from tests.support.tables import create_table
from tests.support.tenancy import ALICE

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"

# The ids the sample events use. The sample events are Alice's (tests.support.tenancy.ALICE).
SAMPLE_CLIENT_ID = "3f2b9c1e8a7d4c6b9e0f1a2b3c4d5e6f"
SAMPLE_JOB_ID = "7c9e6679742540de944be07fc1f90ae7"
SAMPLE_CONNECTION_ID = "Lx3AbcDEoAMCJqg="
SAMPLE_OWNER_ID = ALICE.sub
# The ticket of events/ws_authorizer_connect.json: valid only once put_ticket has stored it.
SAMPLE_TICKET = "SampleTicket-only_for-tests-0123456789abcde"
SAMPLE_OUTPUT_BUCKET = "pipeline-output-123456789012"
ALGORITHMS = ("processing_1", "processing_2", "processing_3")


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def body_of(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


@dataclass
class FakeLambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "52fdfc07-2182-454f-963f-5f0f9a621d72"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def create_jobs_table(name: str = "JobsTable") -> str:
    return create_table("JobsTable", name)


def create_clients_table(name: str = "ClientsTable") -> str:
    return create_table("ClientsTable", name)


def create_connections_table(name: str = "ConnectionsTable") -> str:
    return create_table("ConnectionsTable", name)


def create_tickets_table(name: str = "TicketsTable") -> str:
    return create_table("TicketsTable", name)


def put_ticket(
    table: str = "TicketsTable",
    ticket: str = SAMPLE_TICKET,
    *,
    client_id: str = SAMPLE_CLIENT_ID,
    owner: str = SAMPLE_OWNER_ID,
    expires_at: int = 4102444800,
) -> None:
    """A ticket row as the provisioner writes it (only the ticket's hash is stored)."""
    boto3.client("dynamodb").put_item(
        TableName=table,
        Item={
            "ticket_hash": {"S": tickets.ticket_hash(ticket)},
            "client_id": {"S": client_id},
            "owner": {"S": owner},
            "expires_at": {"N": str(expires_at)},
            "ttl": {"N": str(expires_at)},
        },
    )


def create_results_topic() -> str:
    arn: str = boto3.client("sns").create_topic(
        Name="pipeline-ResultsTopic.fifo",
        Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "false"},
    )["TopicArn"]
    return arn


def create_fifo_queue(name: str) -> str:
    url: str = boto3.client("sqs").create_queue(
        QueueName=f"{name}.fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    return url


def put_client(
    table: str,
    client_id: str = SAMPLE_CLIENT_ID,
    *,
    queue_url: str | None = None,
    subscription_arn: str | None = None,
    owner: str = SAMPLE_OWNER_ID,
    created_at: str = "2026-01-19T09:15:00.000000+00:00",
    ttl: int = 4102444800,
) -> None:
    """A client row as the provisioner writes it, owned by ``owner`` (Alice unless told)."""
    record = ClientRecord(
        client_id=client_id,
        owner=owner,
        delivery="poll" if queue_url else "push",
        created_at=created_at,
        expires_at=ttl,
        queue_url=queue_url or None,
        subscription_arn=subscription_arn or None,
    )
    boto3.client("dynamodb").put_item(TableName=table, Item=record.to_item())


def put_legacy_poll_client(
    topic_arn: str,
    client_id: str,
    *,
    table: str = "ClientsTable",
    owner: str = SAMPLE_OWNER_ID,
    prefix: str = "pipeline-test",
    ttl: int = 4102444800,
) -> tuple[str, str]:
    """A poll client as ProvisionerFunction made them before poll mode read JobsTable: its own
    FIFO queue, subscribed to the results topic with a filter on its id, and a row naming both.
    An upgraded stack still has such clients; DELETE and the reaper must remove what they hold.
    Returns ``(queue_url, subscription_arn)``."""
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    queue_url: str = sqs.create_queue(
        QueueName=f"{prefix}-client-{client_id}.fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    subscription_arn: str = sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={
            "RawMessageDelivery": "true",
            "FilterPolicy": json.dumps({"client_id": [client_id]}),
        },
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    put_client(
        table,
        client_id,
        queue_url=queue_url,
        subscription_arn=subscription_arn,
        owner=owner,
        ttl=ttl,
    )
    return queue_url, subscription_arn


def drain(queue_url: str) -> list[dict[str, Any]]:
    """Every message visible in ``queue_url`` (with its attributes), received once."""
    sqs = boto3.client("sqs")
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)


# --- ProvisionerFunction's stack: every table, the results topic, the WebSocket stage ----------

WEBSOCKET_ENDPOINT = "wss://wsapi12345.execute-api.us-east-1.amazonaws.com/prod"


def create_provisioner_stack(**overrides: str) -> dict[str, str]:
    """Create what ProvisionerFunction uses (under moto) and return its environment.

    The limits default high enough not to matter; the limit tests lower them through
    ``overrides`` (environment names, e.g. ``MAX_CLIENTS_PER_USER="2"``).
    """
    environment = {
        "CLIENTS_TABLE": create_clients_table(),
        "TICKETS_TABLE": create_tickets_table(),
        "CONNECTIONS_TABLE": create_connections_table(),
        "WEBSOCKET_ENDPOINT": WEBSOCKET_ENDPOINT,
        # Not ProvisionerFunction's any more (it subscribes nothing); the tests check that no
        # subscription appears on it, and make legacy poll clients' subscriptions on it.
        "RESULTS_TOPIC_ARN": create_results_topic(),
        "CLIENT_TTL_DAYS": "7",
        "TICKET_TTL_SECONDS": "60",
        "MAX_CLIENTS_PER_USER": "50",
        "MAX_CLIENT_CREATIONS_PER_MINUTE": "50",
    }
    environment.update(overrides)
    return environment


def table_items(table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = boto3.client("dynamodb").scan(TableName=table)["Items"]
    return items
