"""Video dispatcher against moto: starts one ingest execution per object version; rejects empty
objects and wrong extensions with a video.failed message; ignores s3:TestEvent."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from pipeline_common.contracts.video import VideoFailed
from pipeline_common.s3_dispatch import object_id
from tests.support.functions import load_function

EVENTS = Path(__file__).resolve().parents[2] / "events"


def _event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


class _Context:
    aws_request_id = "req-0001"
    function_name = "VideoDispatcherFunction"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:VideoDispatcherFunction"


@pytest.fixture
def env(mocked_aws: None, monkeypatch):
    role = boto3.client("iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"][
        "Arn"
    ]
    arn = boto3.client("stepfunctions").create_state_machine(
        name="VideoIngest",
        roleArn=role,
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
    )["stateMachineArn"]
    queue = boto3.client("sqs").create_queue(
        QueueName="video-results.fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    monkeypatch.setenv("RESULTS_QUEUE_URL", queue)
    monkeypatch.setenv("MAX_OBJECT_BYTES", "1000000")
    return {"app": load_function("video_dispatcher"), "arn": arn, "queue": queue}


def _executions(arn: str) -> list[dict]:
    return boto3.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]


def _failures(queue: str) -> list[VideoFailed]:
    out = boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
    return [VideoFailed.model_validate_json(m["Body"]) for m in out.get("Messages", [])]


def test_upload_starts_one_execution_even_when_redelivered(env):
    # Given the sample upload event
    event = _event("video_dispatcher_upload.json")

    # When it is delivered twice
    first = env["app"].lambda_handler(event, _Context())
    second = env["app"].lambda_handler(event, _Context())

    # Then one execution with a deterministic name carries the decoded key and the video id
    (execution,) = _executions(env["arn"])
    assert execution["name"].startswith("vid-")
    started = first["dispatched"][0]
    assert started["status"] == "started"
    # (Step Functions answers a same-name start either idempotently or ExecutionAlreadyExists)
    assert second["dispatched"][0]["status"] in ("started", "duplicate")
    assert second["dispatched"][0]["video_id"] == started["video_id"]
    described = boto3.client("stepfunctions").describe_execution(
        executionArn=execution["executionArn"]
    )
    payload = json.loads(described["input"])
    assert payload["source"] == {
        "bucket": "video-input",
        "key": "uploads/street scene.mp4",
        "version_id": "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY",
    }
    assert payload["video_id"] == started["video_id"]
    # The correlation id is the object version's id (the execution name), not the request id
    assert payload["correlation_id"] == execution["name"]
    assert _failures(env["queue"]) == []


@pytest.mark.parametrize(
    ("event_file", "reason"),
    [
        ("video_dispatcher_wrong_extension.json", "unsupported extension '.txt'"),
        ("video_dispatcher_zero_bytes.json", "empty (0 bytes)"),
    ],
)
def test_bad_objects_are_rejected_with_a_failure_message(env, event_file, reason):
    # Given an event for an object the pipeline cannot ingest
    event = _event(event_file)

    # When it is dispatched
    result = env["app"].lambda_handler(event, _Context())

    # Then no execution starts and one video-level failure explains why
    assert result["dispatched"][0]["status"] == "rejected"
    assert _executions(env["arn"]) == []
    (failure,) = _failures(env["queue"])
    assert failure.level == "video"
    assert reason in failure.reason
    assert failure.correlation_id is not None
    assert failure.correlation_id.startswith("vid-")


def test_oversized_object_is_rejected(env):
    # Given an upload larger than MAX_OBJECT_BYTES
    event = _event("video_dispatcher_upload.json")
    event["Records"][0]["s3"]["object"]["size"] = 5_000_000

    # When it is dispatched
    env["app"].lambda_handler(event, _Context())

    # Then it is refused with the limit named
    (failure,) = _failures(env["queue"])
    assert "the limit is 1000000" in failure.reason


def test_s3_test_event_is_ignored(env):
    # Given the s3:TestEvent S3 sends when notifications are configured
    # When it is dispatched
    result = env["app"].lambda_handler(_event("video_dispatcher_test_event.json"), _Context())

    # Then nothing happens
    assert result == {"dispatched": []}
    assert _executions(env["arn"]) == []
    assert _failures(env["queue"]) == []


def test_a_failing_record_is_named_in_the_raised_error(env, monkeypatch):
    # Given a state machine that no longer exists
    app = env["app"]
    monkeypatch.setattr(
        app,
        "settings",
        app.DispatcherSettings(
            state_machine_arn=env["arn"] + "-gone", results_queue_url=env["queue"]
        ),
    )

    # When the upload is dispatched
    # Then the handler raises naming the key, so Lambda retries the event
    with pytest.raises(app.DispatchFailed, match="street"):
        app.lambda_handler(_event("video_dispatcher_upload.json"), _Context())


def test_a_redelivered_rejection_keeps_its_correlation_id_and_is_reported_once(env):
    # Given a rejected upload whose notification is delivered twice, by two invocations
    event = _event("video_dispatcher_zero_bytes.json")
    retry = type("Retry", (_Context,), {"aws_request_id": "req-0002"})

    # When both are dispatched
    env["app"].lambda_handler(event, _Context())
    env["app"].lambda_handler(event, retry())

    # Then the FIFO queue holds one failure, its correlation id derived from the object version
    (failure,) = _failures(env["queue"])
    assert failure.correlation_id == object_id(
        "vid-", "video-input", "uploads/EMPTY.MOV", None, "d41d8cd98f00b204e9800998ecf8427e"
    )
