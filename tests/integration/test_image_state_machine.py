"""ImageProcessingStateMachine's definition executed by moto's Step Functions interpreter, with
the ECS task replaced by a stand-in that stops with a chosen exit code (moto starts no
containers; the local cloud and AWS do). What is checked: the container overrides, and that
every way a task can end produces exactly one message in total, or none from the ASL when the
container already reported."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.core.config import DefaultConfig
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_ecs as ecs_service,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

from pipeline_common.contracts.image import ImageProcessingResult, ImageStatus
from tests.support.tables import create_table

ROOT = Path(__file__).resolve().parents[2]
ASL = (ROOT / "statemachines" / "image_processing.asl.json").read_text(encoding="utf-8")
SAMPLE_INPUT = json.loads((ROOT / "events" / "image_processing_input.json").read_text("utf-8"))
CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/pipeline"
CLAIMS_TABLE = "ImageClaimsTable"
TASK_ARN = "arn:aws:ecs:us-east-1:123456789012:task/pipeline/0123456789abcdef"


@dataclass
class FakeEcs:
    """How the next task ends, and what the state machine asked ECS for."""

    exit_code: int | None = 0
    stopped_reason: str | None = "Essential container in task exited"
    failure: tuple[str, str] | None = None  # (error, cause) when ECS fails before any task ends
    run_task_calls: list[dict[str, Any]] = field(default_factory=list)

    def description(self) -> dict[str, Any]:
        container: dict[str, Any] = {"Name": "grayscale", "LastStatus": "STOPPED"}
        if self.exit_code is not None:
            container["ExitCode"] = self.exit_code
        task: dict[str, Any] = {
            "TaskArn": TASK_ARN,
            "ClusterArn": CLUSTER,
            "LastStatus": "STOPPED",
            "StopCode": "EssentialContainerExited",
            "Containers": [{"Name": "log-router", "ExitCode": 0}, container],
        }
        if self.stopped_reason is not None:
            task["StoppedReason"] = self.stopped_reason
        return task


@pytest.fixture
def fake_ecs(monkeypatch: pytest.MonkeyPatch) -> FakeEcs:
    fake = FakeEcs()

    def eval_service_task(self, env, resource_runtime_part, normalised_parameters, **_):
        fake.run_task_calls.append(normalised_parameters)
        env.stack.append({"Tasks": [{"TaskArn": TASK_ARN, "ClusterArn": CLUSTER}]})

    def build_sync_resolver(self, env, **_):
        env.stack.pop()

        def resolve() -> dict[str, Any]:
            if fake.failure is not None:
                error, cause = fake.failure
            elif fake.exit_code == 0:
                return fake.description()
            else:  # what AWS does when an essential container exits non-zero
                error, cause = "States.TaskFailed", json.dumps(fake.description())
            name = (
                StatesErrorName.from_name(error)
                if error.startswith("States.")
                else CustomErrorName(error_name=error)
            )
            details = TaskFailedEventDetails(
                resourceType="ecs", resource="runTask.sync", error=error, cause=cause
            )
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=name,
                    event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(taskFailedEventDetails=details),
                )
            )

        return resolve

    monkeypatch.setattr(ecs_service.StateTaskServiceEcs, "_eval_service_task", eval_service_task)
    monkeypatch.setattr(
        ecs_service.StateTaskServiceEcs, "_build_sync_resolver", build_sync_resolver
    )
    return fake


@dataclass
class StateMachine:
    arn: str
    queue_url: str

    def run(self, execution_input: dict[str, Any], name: str | None = None) -> dict[str, Any]:
        sfn = boto3.client("stepfunctions")
        named = {"name": name} if name else {}
        arn = sfn.start_execution(
            stateMachineArn=self.arn, input=json.dumps(execution_input), **named
        )["executionArn"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            execution = sfn.describe_execution(executionArn=arn)
            if execution["status"] != "RUNNING":
                return execution
            time.sleep(0.05)
        raise AssertionError("execution did not finish")

    def messages(self) -> list[ImageProcessingResult]:
        received = boto3.client("sqs").receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        return [
            ImageProcessingResult.model_validate_json(m["Body"])
            for m in received.get("Messages", [])
        ]


@pytest.fixture
def moto_config() -> DefaultConfig:
    """Step Functions run their states here, not only record the start."""
    return {"stepfunctions": {"execute_state_machine": True}}


@pytest.fixture
def machine(fake_ecs: FakeEcs, mocked_aws: None) -> StateMachine:
    queue_url = boto3.client("sqs").create_queue(QueueName="ImageProcessingQueue")["QueueUrl"]
    create_table("ImageClaimsTable", CLAIMS_TABLE)
    substitutions = {
        "ClusterArn": CLUSTER,
        "TaskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/gray:1",
        "PrivateSubnet1": "subnet-0000000000000000a",
        "PrivateSubnet2": "subnet-0000000000000000b",
        "TaskSecurityGroup": "sg-0000000000000000c",
        "MetricsQueueUrl": queue_url,
        "ContainerName": "grayscale",
        "ClaimsTable": CLAIMS_TABLE,
    }
    definition = ASL
    for name, value in substitutions.items():
        definition = definition.replace("${" + name + "}", value)
    arn = boto3.client("stepfunctions").create_state_machine(
        name="ImageProcessingStateMachine",
        definition=definition,
        roleArn="arn:aws:iam::123456789012:role/ImageProcessingStateMachineRole",
    )["stateMachineArn"]
    return StateMachine(arn, queue_url)


def test_processed_object_ends_in_success_with_no_message_from_the_asl(
    machine: StateMachine, fake_ecs: FakeEcs
) -> None:
    # Given a task that exits 0 (it sent its own SUCCEEDED message)
    fake_ecs.exit_code = 0

    # When the sample input runs
    execution = machine.run(SAMPLE_INPUT)

    # Then the execution succeeds and the task got the object in its environment
    assert execution["status"] == "SUCCEEDED"
    (call,) = fake_ecs.run_task_calls
    assert call["LaunchType"] == "FARGATE"
    assert call["Cluster"] == CLUSTER
    network = call["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "DISABLED"
    (override,) = call["Overrides"]["ContainerOverrides"]
    assert override["Name"] == "grayscale"
    assert {v["Name"]: v["Value"] for v in override["Environment"]} == {
        "INPUT_BUCKET": SAMPLE_INPUT["bucket"],
        "INPUT_KEY": SAMPLE_INPUT["key"],
        "INPUT_VERSION_ID": SAMPLE_INPUT["version_id"],
        "CORRELATION_ID": SAMPLE_INPUT["correlation_id"],
    }
    assert machine.messages() == []


def test_unversioned_object_gets_an_empty_version_id(
    machine: StateMachine, fake_ecs: FakeEcs
) -> None:
    # Given an object from an unversioned bucket, with a unicode key
    execution_input = SAMPLE_INPUT | {"version_id": None, "key": "uploads/été à midi.png"}

    # When it runs
    assert machine.run(execution_input)["status"] == "SUCCEEDED"

    # Then ECS got strings only: the version id is empty, the key intact
    (call,) = fake_ecs.run_task_calls
    env = {v["Name"]: v["Value"] for v in call["Overrides"]["ContainerOverrides"][0]["Environment"]}
    assert env["INPUT_VERSION_ID"] == ""
    assert env["INPUT_KEY"] == "uploads/été à midi.png"


def test_rejected_input_fails_without_a_second_message(
    machine: StateMachine, fake_ecs: FakeEcs
) -> None:
    # Given a task that refused its input (exit 2; it already sent the FAILED message)
    fake_ecs.exit_code = 2

    # When the execution runs
    execution = machine.run(SAMPLE_INPUT)

    # Then it fails as ImageRejected, once (no retry), and sends nothing more
    assert execution["status"] == "FAILED"
    assert execution.get("error") == "ImageRejected"
    assert len(fake_ecs.run_task_calls) == 1
    assert machine.messages() == []


def test_crashed_task_is_reported_once_with_its_stopped_reason(
    machine: StateMachine, fake_ecs: FakeEcs
) -> None:
    # Given a task whose container crashes (exit 1) every time
    fake_ecs.exit_code = 1

    # When the execution runs
    execution = machine.run(SAMPLE_INPUT)

    # Then the task ran three times (a crash is not about the input: two retries), and then
    # exactly one FAILED message (a valid contract message) says what happened
    assert execution["status"] == "FAILED"
    assert execution.get("error") == "ImageTaskFailed"
    (message,) = machine.messages()
    assert (message.status, message.stage) == (ImageStatus.FAILED, "task")
    assert message.reason == (
        "grayscale task stopped: Essential container in task exited (container exit code 1)"
    )
    assert message.correlation_id == SAMPLE_INPUT["correlation_id"]
    assert (message.input.bucket, message.input.key) == (
        SAMPLE_INPUT["bucket"],
        SAMPLE_INPUT["key"],
    )
    assert message.input.version_id == SAMPLE_INPUT["version_id"]
    assert message.input_bytes == SAMPLE_INPUT["size"]
    assert len(fake_ecs.run_task_calls) == 3


def test_task_that_crashes_once_is_run_again_and_its_own_message_is_the_only_one(
    machine: StateMachine, fake_ecs: FakeEcs, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a task killed on its first run (an instance lost: exit 137), fine on its second
    runs = fake_ecs.run_task_calls
    fake_ecs.exit_code = 137

    class SecondRunSucceeds(list):  # type: ignore[type-arg]
        def append(self, item: Any) -> None:
            super().append(item)
            fake_ecs.exit_code = 137 if len(self) == 1 else 0

    fake_ecs.run_task_calls = SecondRunSucceeds(runs)

    # When the execution runs
    execution = machine.run(SAMPLE_INPUT)

    # Then it succeeds on the second run and sends nothing itself (the task sent SUCCEEDED)
    assert execution["status"] == "SUCCEEDED"
    assert len(fake_ecs.run_task_calls) == 2
    assert machine.messages() == []


def test_task_that_never_started_its_container_is_reported(
    machine: StateMachine, fake_ecs: FakeEcs
) -> None:
    # Given a task stopped before its container ran (no exit code), e.g. an image pull failure
    fake_ecs.exit_code = None
    fake_ecs.stopped_reason = "CannotPullContainerError: pull image manifest has been retried"

    # When the execution runs
    machine.run(SAMPLE_INPUT)

    # Then the one message carries ECS's reason
    (message,) = machine.messages()
    assert "CannotPullContainerError" in (message.reason or "")


def test_failure_without_a_task_description_is_reported_with_its_cause(
    machine: StateMachine, fake_ecs: FakeEcs
) -> None:
    # Given an ECS failure whose cause is plain text, on an unversioned object
    fake_ecs.failure = ("ECS.AccessDeniedException", "not authorized to perform ecs:RunTask")

    # When the execution runs
    execution = machine.run(SAMPLE_INPUT | {"version_id": None})

    # Then one message quotes the error and its cause (not retried: it is not transient)
    assert execution["status"] == "FAILED"
    (message,) = machine.messages()
    assert message.reason == (
        "grayscale task failed with ECS.AccessDeniedException: "
        "not authorized to perform ecs:RunTask"
    )
    assert message.input.version_id is None
    assert len(fake_ecs.run_task_calls) == 1


def _batch_input(count: int = 3) -> dict[str, Any]:
    objects = [
        SAMPLE_INPUT | {"key": f"uploads/{i}.jpg", "correlation_id": f"img-object-{i}"}
        for i in range(count)
    ]
    return {
        "batch_id": "imgb-test",
        "correlation_id": "imgb-test",
        "manifest": {"bucket": "image-output-bucket", "key": "manifests/imgb-test.json"},
        "objects": objects,
        "count": count,
        "batch_timeout_seconds": 900,
        "claim_expires_at": 1_900_000_000,
    }


def _put_claim(object_id: str, batch_id: str, state: str) -> None:
    boto3.client("dynamodb").put_item(
        TableName=CLAIMS_TABLE,
        Item={
            "object_id": {"S": object_id},
            "batch_id": {"S": batch_id},
            "state": {"S": state},
        },
    )


def test_a_batch_runs_one_task_over_its_manifest(machine: StateMachine, fake_ecs: FakeEcs):
    # Given a batch whose task reports every object itself (exit 0)
    fake_ecs.exit_code = 0

    # When it runs
    execution = machine.run(_batch_input())

    # Then one task got the manifest (not the list) and the ASL sends nothing
    assert execution["status"] == "SUCCEEDED"
    (call,) = fake_ecs.run_task_calls
    env = {v["Name"]: v["Value"] for v in call["Overrides"]["ContainerOverrides"][0]["Environment"]}
    assert env == {
        "MANIFEST_BUCKET": "image-output-bucket",
        "MANIFEST_KEY": "manifests/imgb-test.json",
        "BATCH_ID": "imgb-test",
        "CORRELATION_ID": "imgb-test",
    }
    assert machine.messages() == []


def test_a_batch_that_keeps_crashing_reports_each_unreported_object_once(
    machine: StateMachine, fake_ecs: FakeEcs
):
    # Given a batch whose task crashes every time, after it reported object 0, while object 1
    # belongs to another batch and object 2 was claimed by this one but not reported
    fake_ecs.exit_code = 1
    _put_claim("img-object-0", "imgb-test", "REPORTED")
    _put_claim("img-object-1", "imgb-other", "PROCESSING")
    _put_claim("img-object-2", "imgb-test", "PROCESSING")
    batch = _batch_input(4)  # object 3 was never claimed

    # When it runs
    execution = machine.run(batch)

    # Then the task ran three times, and objects 2 and 3 got one FAILED message each
    assert execution["status"] == "FAILED"
    assert execution.get("error") == "ImageBatchFailed"
    assert len(fake_ecs.run_task_calls) == 3
    messages = sorted(machine.messages(), key=lambda m: m.input.key)
    assert [m.input.key for m in messages] == ["uploads/2.jpg", "uploads/3.jpg"]
    for message in messages:
        assert (message.status, message.stage) == (ImageStatus.FAILED, "task")
        assert "exit code 1" in (message.reason or "")
        assert message.correlation_id == f"img-object-{message.input.key[8]}"

    # And both are now REPORTED by this batch: a second failure branch would send nothing
    machine.run(batch, name="second-run")
    assert machine.messages() == []


def test_a_batch_whose_manifest_is_unreadable_is_reported_without_a_retry(
    machine: StateMachine, fake_ecs: FakeEcs
):
    # Given a batch task that exits 2 (its manifest cannot be read)
    fake_ecs.exit_code = 2

    # When it runs
    machine.run(_batch_input(2))

    # Then it ran once, and each object got its FAILED message
    assert len(fake_ecs.run_task_calls) == 1
    assert sorted(m.input.key for m in machine.messages()) == ["uploads/0.jpg", "uploads/1.jpg"]
