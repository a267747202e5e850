"""ImageDispatcherFunction against moto: every sample event, idempotency, rejections, failures."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import boto3
import pytest

from pipeline_common.contracts.image import ImageProcessingInput, ImageProcessingResult
from tests.support.functions import load_function

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
ASL = (ROOT / "statemachines" / "image_processing.asl.json").read_text(encoding="utf-8")


@dataclass
class FakeLambdaContext:
    function_name: str = "ImageDispatcherFunction"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:ImageDispatcherFunction"
    )
    aws_request_id: str = "6f5b3b1e-0000-4000-8000-000000000001"


@dataclass
class Stack:
    app: ModuleType
    state_machine_arn: str
    queue_url: str

    def invoke(self, event: dict) -> dict:
        return self.app.lambda_handler(event, FakeLambdaContext())

    def executions(self) -> list[dict]:
        sfn = boto3.client("stepfunctions")
        listed = sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]
        return [sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]

    def messages(self) -> list[ImageProcessingResult]:
        sqs = boto3.client("sqs")
        received = sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        return [ImageProcessingResult.model_validate_json(m["Body"]) for m in received]


def _event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


@pytest.fixture
def stack(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> Stack:
    queue_url = boto3.client("sqs").create_queue(QueueName="ImageProcessingQueue")["QueueUrl"]
    definition = ASL
    for name in ("ClusterArn", "TaskDefinitionArn", "PrivateSubnet1", "PrivateSubnet2"):
        definition = definition.replace("${" + name + "}", f"example-{name.lower()}")
    definition = definition.replace("${TaskSecurityGroup}", "sg-0123456789abcdef0")
    definition = definition.replace("${ContainerName}", "grayscale")
    definition = definition.replace("${MetricsQueueUrl}", queue_url)
    arn = boto3.client("stepfunctions").create_state_machine(
        name="ImageProcessingStateMachine",
        definition=definition,
        roleArn="arn:aws:iam::123456789012:role/ImageProcessingStateMachineRole",
    )["stateMachineArn"]
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    monkeypatch.setenv("METRICS_QUEUE_URL", queue_url)
    monkeypatch.setenv("MAX_OBJECT_BYTES", "52428800")
    return Stack(load_function("image_dispatcher"), arn, queue_url)


def test_put_event_starts_one_execution_with_the_object(stack: Stack) -> None:
    # Given an S3 put notification for a versioned JPEG
    event = _event("image_dispatcher_s3_put.json")

    # When the dispatcher handles it
    summary = stack.invoke(event)

    # Then one execution runs on exactly that object version, and no failure was reported
    assert summary["started"] == ["s3://image-input-bucket/uploads/bus.jpg"]
    (execution,) = stack.executions()
    started = ImageProcessingInput.model_validate_json(execution["input"])
    assert started == ImageProcessingInput.model_validate(_event("image_processing_input.json"))
    assert execution["name"] == started.correlation_id
    assert stack.messages() == []


def test_multipart_event_with_encoded_unicode_key_and_upper_case_extension(stack: Stack) -> None:
    # Given a multipart-upload notification, key URL-encoded, extension in capitals, no version
    event = _event("image_dispatcher_multipart_complete.json")

    # When the dispatcher handles it
    stack.invoke(event)

    # Then the execution gets the decoded key and the ETag identifies the content
    (execution,) = stack.executions()
    started = ImageProcessingInput.model_validate_json(execution["input"])
    assert started.key == "uploads/Holiday photo été.PNG"
    assert started.version_id is None
    assert started.etag == "9b2cf535f27731c974343645a3985328-3"


def test_test_event_is_ignored(stack: Stack) -> None:
    # Given the s3:TestEvent S3 sends when the notification is configured
    event = _event("image_dispatcher_test_event.json")

    # When the dispatcher handles it
    summary = stack.invoke(event)

    # Then nothing starts and nothing is reported
    assert summary["ignored"] == ["s3:TestEvent"]
    assert stack.executions() == []
    assert stack.messages() == []


@pytest.mark.parametrize(
    ("event_name", "reason"),
    [
        ("image_dispatcher_unsupported_extension.json", "unsupported extension '.gif'"),
        ("image_dispatcher_empty_object.json", "empty (0 bytes)"),
    ],
)
def test_rejected_object_gets_one_failure_message_and_no_execution(
    stack: Stack, event_name: str, reason: str
) -> None:
    # Given a notification for an object the pipeline cannot process
    event = _event(event_name)
    key = event["Records"][0]["s3"]["object"]["key"]

    # When the dispatcher handles it
    summary = stack.invoke(event)

    # Then exactly one FAILED message says why, at the dispatch stage, and nothing runs
    assert summary["rejected"] == [f"s3://image-input-bucket/{key}"]
    assert stack.executions() == []
    (message,) = stack.messages()
    assert (message.status, message.stage) == ("FAILED", "dispatch")
    assert reason in (message.reason or "")
    assert message.input.key == key
    assert message.correlation_id
    assert message.correlation_id.startswith("img-")


def test_object_larger_than_the_limit_is_rejected(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a lower size limit than the sample object
    monkeypatch.setenv("MAX_OBJECT_BYTES", "1000")
    app = load_function("image_dispatcher")

    # When the dispatcher handles the put event
    app.lambda_handler(_event("image_dispatcher_s3_put.json"), FakeLambdaContext())

    # Then it is refused for its size
    (message,) = stack.messages()
    assert "137419 bytes, more than the 1000 allowed" in (message.reason or "")
    assert stack.executions() == []


def test_redelivered_event_does_not_start_a_second_execution(stack: Stack) -> None:
    # Given an object version whose processing already ran to its end
    event = _event("image_dispatcher_s3_put.json")
    stack.invoke(event)
    (first,) = stack.executions()
    boto3.client("stepfunctions").stop_execution(executionArn=first["executionArn"])

    # When the same notification arrives again (S3 delivers at least once)
    summary = stack.invoke(event)

    # Then it is recognised as already processed, not started again and not an error
    assert summary["duplicates"] == ["s3://image-input-bucket/uploads/bus.jpg"]
    assert len(stack.executions()) == 1


def test_invalid_environment_fails_at_cold_start(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an environment without the state machine ARN
    monkeypatch.delenv("STATE_MACHINE_ARN", raising=False)
    monkeypatch.setenv("METRICS_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/1/q")

    # When / Then the function does not start
    with pytest.raises(ValueError, match="state_machine_arn"):
        load_function("image_dispatcher")


def test_one_failing_record_is_reported_after_the_others_are_processed(stack: Stack) -> None:
    # Given an event with three records, the middle one for a state machine that does not exist
    good = _event("image_dispatcher_s3_put.json")["Records"][0]
    other = json.loads(json.dumps(good))
    other["s3"]["object"]["key"] = "uploads/second.jpg"
    broken = json.loads(json.dumps(good))
    broken["s3"]["object"]["key"] = "uploads/broken.jpg"
    broken["s3"]["object"]["size"] = "not a number"

    # When the dispatcher handles it
    with pytest.raises(
        Exception, match=r"1 of 3 records failed: s3://image-input-bucket/uploads/broken\.jpg"
    ):
        stack.invoke({"Records": [good, broken, other]})

    # Then the good records were still dispatched, and nothing was reported for the broken one
    keys = sorted(
        ImageProcessingInput.model_validate_json(e["input"]).key for e in stack.executions()
    )
    assert keys == ["uploads/bus.jpg", "uploads/second.jpg"]
    assert stack.messages() == []
