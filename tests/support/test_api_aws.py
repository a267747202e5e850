"""Helpers for the job API and WebSocket tests: sample events from ``events/``, the tables, secret,
topic and queues those functions use (created under moto), and a Lambda context.

No tests live here; the name only keeps the file inside the job API's test prefix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"

# The ids the sample events use, and the key their sample token was signed with.
SAMPLE_CLIENT_ID = "3f2b9c1e8a7d4c6b9e0f1a2b3c4d5e6f"
SAMPLE_JOB_ID = "7c9e6679742540de944be07fc1f90ae7"
SAMPLE_CONNECTION_ID = "Lx3AbcDEoAMCJqg="
SAMPLE_SIGNING_KEY = "sample-token-signing-key-do-not-use-in-production"
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
    boto3.client("dynamodb").create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
    )
    return name


def create_clients_table(name: str = "ClientsTable") -> str:
    boto3.client("dynamodb").create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "client_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "client_id", "KeyType": "HASH"}],
    )
    return name


def create_connections_table(name: str = "ConnectionsTable") -> str:
    boto3.client("dynamodb").create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "connection_id", "AttributeType": "S"},
            {"AttributeName": "client_id", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "connection_id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "client_id-index",
                "KeySchema": [{"AttributeName": "client_id", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    return name


def create_signing_secret(value: str = SAMPLE_SIGNING_KEY) -> str:
    arn: str = boto3.client("secretsmanager").create_secret(
        Name="pipeline/ws-token-key", SecretString=value
    )["ARN"]
    return arn


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
    table: str, client_id: str = SAMPLE_CLIENT_ID, *, queue_url: str | None = None
) -> None:
    item = {
        "client_id": {"S": client_id},
        "delivery": {"S": "poll" if queue_url else "push"},
        "created_at": {"S": "2026-01-19T09:15:00+00:00"},
        "ttl": {"N": "4102444800"},
    }
    if queue_url:
        item["queue_url"] = {"S": queue_url}
    boto3.client("dynamodb").put_item(TableName=table, Item=item)


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
