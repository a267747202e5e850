"""ImageDispatcherFunction in batched mode against moto: SQS batches of S3 notifications become
one execution per batch with its manifest; duplicates, redeliveries, rejections and broken
messages are handled per message (partial batch response)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from pipeline_common.contracts.image import ImageBatchInput, ImageBatchManifest
from tests.support.functions import load_function

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
MANIFEST_BUCKET = "image-output-bucket"


@dataclass
class FakeLambdaContext:
    function_name: str = "ImageDispatcherFunction"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:ImageDispatcherFunction"
    )
    aws_request_id: str = "6f5b3b1e-0000-4000-8000-000000000002"


@dataclass
class Stack:
    app: ModuleType
    state_machine_arn: str

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.app.lambda_handler(event, FakeLambdaContext())

    def executions(self) -> list[dict[str, Any]]:
        sfn = boto3.client("stepfunctions")
        listed = sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]
        return [sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]


def _s3_event(key: str, version: str = "v1", size: int = 1000) -> dict[str, Any]:
    event = json.loads((EVENTS / "image_dispatcher_s3_put.json").read_text(encoding="utf-8"))
    record = event["Records"][0]
    record["s3"]["object"].update(key=key, versionId=version, size=size)
    return event


def _sqs_event(*bodies: dict[str, Any] | str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m-{index}",
                "receiptHandle": f"r-{index}",
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ImageIntakeQueue",
                "awsRegion": "us-east-1",
            }
            for index, body in enumerate(bodies)
        ]
    }


@pytest.fixture
def stack(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> Stack:
    queue_url = boto3.client("sqs").create_queue(QueueName="ImageProcessingQueue")["QueueUrl"]
    boto3.client("s3").create_bucket(Bucket=MANIFEST_BUCKET)
    arn = boto3.client("stepfunctions").create_state_machine(
        name="ImageProcessingStateMachine",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/ImageProcessingStateMachineRole",
    )["stateMachineArn"]
    for name, value in {
        "STATE_MACHINE_ARN": arn,
        "METRICS_QUEUE_URL": queue_url,
        "DISPATCH_MODE": "batched",
        "MANIFEST_BUCKET": MANIFEST_BUCKET,
        "BATCH_TIMEOUT_SECONDS": "600",
    }.items():
        monkeypatch.setenv(name, value)
    return Stack(load_function("image_dispatcher"), arn)


def test_a_batch_of_notifications_starts_one_execution_with_its_manifest(stack: Stack):
    # Given three notifications in one SQS batch, one of them twice (S3 is at-least-once)
    event = _sqs_event(
        _s3_event("uploads/a.jpg"), _s3_event("uploads/b.png"), _s3_event("uploads/a.jpg")
    )

    # When the dispatcher handles it
    response = stack.invoke(event)

    # Then one execution holds the two objects once each, and nothing is retried
    assert response["batchItemFailures"] == []
    (execution,) = stack.executions()
    started = ImageBatchInput.model_validate_json(execution["input"])
    assert execution["name"] == started.batch_id
    assert sorted(o.key for o in started.objects) == ["uploads/a.jpg", "uploads/b.png"]
    assert started.batch_timeout_seconds == 600
    # And the manifest the task reads lists the same objects under the batch's name
    body = boto3.client("s3").get_object(Bucket=MANIFEST_BUCKET, Key=started.manifest.key)
    manifest = ImageBatchManifest.model_validate_json(body["Body"].read())
    assert (manifest.batch_id, manifest.objects) == (started.batch_id, started.objects)
    # And each object keeps the id per-object mode would give it
    assert all(o.correlation_id.startswith("img-") for o in started.objects)


def test_the_same_batch_delivered_again_starts_nothing(stack: Stack):
    # Given a batch that was dispatched
    event = _sqs_event(_s3_event("uploads/a.jpg"), _s3_event("uploads/b.jpg"))
    stack.invoke(event)

    # When Lambda delivers the same messages again
    response = stack.invoke(event)

    # Then no second execution starts (Step Functions answers ExecutionAlreadyExists, or, for
    # the same name and input while it runs, the first execution's ARN)
    assert response["batchItemFailures"] == []
    assert len(stack.executions()) == 1


def test_rejections_and_the_test_event_are_settled_and_a_broken_message_is_retried(stack: Stack):
    # Given a batch with a GIF, S3's test event, a body that is not JSON, and one good photo
    test_event = json.loads(
        (EVENTS / "image_dispatcher_test_event.json").read_text(encoding="utf-8")
    )
    event = _sqs_event(_s3_event("uploads/x.gif"), test_event, "not json", _s3_event("ok.jpg"))

    # When the dispatcher handles it
    response = stack.invoke(event)

    # Then only the broken message is returned for a retry; the photo's batch started
    assert response["batchItemFailures"] == [{"itemIdentifier": "m-2"}]
    assert response["rejected"] == ["s3://image-input-bucket/uploads/x.gif"]
    assert response["ignored"] == ["s3:TestEvent"]
    (execution,) = stack.executions()
    assert [o.key for o in ImageBatchInput.model_validate_json(execution["input"]).objects] == [
        "ok.jpg"
    ]


def test_a_batch_that_cannot_start_returns_its_messages_for_a_retry(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
):
    # Given a state machine that is gone
    monkeypatch.setenv("STATE_MACHINE_ARN", stack.state_machine_arn + "-gone")
    app = load_function("image_dispatcher")

    # When a batch arrives
    response = app.lambda_handler(
        _sqs_event(_s3_event("uploads/a.jpg"), _s3_event("uploads/b.jpg")), FakeLambdaContext()
    )

    # Then both messages come back for a retry (then the DLQ)
    assert response["batchItemFailures"] == [{"itemIdentifier": "m-0"}, {"itemIdentifier": "m-1"}]
