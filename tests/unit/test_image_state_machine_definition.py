"""Static checks of statemachines/image_processing.asl.json: the wiring the template and the
grayscale container rely on (its behaviour is run in tests/integration/test_image_state_machine)."""

from __future__ import annotations

import json
import re
from pathlib import Path

ASL_PATH = Path(__file__).resolve().parents[2] / "statemachines" / "image_processing.asl.json"
ASL_TEXT = ASL_PATH.read_text(encoding="utf-8")
ASL = json.loads(ASL_TEXT)
STATES = ASL["States"]
SUBSTITUTIONS = {
    "ClusterArn",
    "TaskDefinitionArn",
    "PrivateSubnet1",
    "PrivateSubnet2",
    "TaskSecurityGroup",
    "MetricsQueueUrl",
    "ContainerName",
    "ClaimsTable",
}


def _targets(state: dict) -> set[str]:
    targets = {state["Next"]} if "Next" in state else set()
    targets |= {choice["Next"] for choice in state.get("Choices", [])}
    targets |= {state["Default"]} if "Default" in state else set()
    targets |= {catch["Next"] for catch in state.get("Catch", [])}
    return targets


def test_every_transition_exists_and_every_state_is_reachable() -> None:
    # Given the definition
    # When the graph is walked from StartAt
    seen, todo = set(), [ASL["StartAt"]]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        assert name in STATES, f"transition to a missing state {name!r}"
        todo.extend(_targets(STATES[name]))

    # Then nothing is unreachable, and only Succeed/Fail states end it
    assert seen == set(STATES)
    for name, state in STATES.items():
        if not _targets(state):
            assert state["Type"] in ("Succeed", "Fail"), name


def test_only_the_agreed_substitutions_are_used() -> None:
    # Given / When the ${...} placeholders are collected
    used = set(re.findall(r"\$\{(\w+)\}", ASL_TEXT))

    # Then they are exactly the DefinitionSubstitutions the template provides
    assert used == SUBSTITUTIONS


def test_task_runs_on_fargate_in_private_subnets_with_the_object_in_its_environment() -> None:
    # Given the task state
    task = STATES["Run grayscale task"]
    params = task["Parameters"]

    # When / Then it is a .sync Fargate run with no public IP and the container's variables
    assert task["Resource"] == "arn:aws:states:::ecs:runTask.sync"
    assert params["LaunchType"] == "FARGATE"
    vpc = params["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert vpc["AssignPublicIp"] == "DISABLED"
    (override,) = params["Overrides"]["ContainerOverrides"]
    assert override["Name"] == "${ContainerName}"
    names = [variable["Name"] for variable in override["Environment"]]
    assert names == ["INPUT_BUCKET", "INPUT_KEY", "INPUT_VERSION_ID", "CORRELATION_ID"]
    assert 0 < task["TimeoutSeconds"] < ASL["TimeoutSeconds"]


def test_transient_ecs_errors_are_retried_with_backoff_and_everything_else_is_caught() -> None:
    # Given the task state
    task = STATES["Run grayscale task"]

    # When / Then ECS API errors are retried with exponential backoff, a bounded number of times
    ecs_retry = next(r for r in task["Retry"] if "ECS.ThrottlingException" in r["ErrorEquals"])
    assert {"ECS.AmazonECSException", "ECS.ServerException"} <= set(ecs_retry["ErrorEquals"])
    assert ecs_retry["BackoffRate"] > 1
    assert 1 <= ecs_retry["MaxAttempts"] <= 5
    # a container that exited (States.TaskFailed) is never retried: rejects would loop
    assert all("States.TaskFailed" not in r["ErrorEquals"] for r in task["Retry"])
    assert all("States.ALL" not in r["ErrorEquals"] for r in task["Retry"])
    (catch,) = task["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"]
    assert catch["ResultPath"] == "$.error"


def test_failure_report_goes_to_the_metrics_queue() -> None:
    # Given the report state
    report = STATES["Report task failure"]

    # When / Then it sends a FAILED image.processed message to ImageProcessingQueue
    assert report["Resource"] == "arn:aws:states:::sqs:sendMessage"
    assert report["Parameters"]["QueueUrl"] == "${MetricsQueueUrl}"
    body = report["Parameters"]["MessageBody"]
    assert (body["kind"], body["status"], body["stage"]) == ("image.processed", "FAILED", "task")
    assert STATES[report["Next"]]["Type"] == "Fail"
