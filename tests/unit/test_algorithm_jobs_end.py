"""The static side of "every job ends": the template wires what the worker and the functions
need, the memory estimate adds up, and the local cloud drives the sweeper's schedule."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from localcloud.event_sources.schedule import ScheduleEventSource, rate_seconds
from localcloud.template import load_template

# isort: split
from algorithm_worker.errors import JobInputError, OverMemoryBudget
from algorithm_worker.memory_budget import MIB, InstanceSize, MemoryBudget, estimate_bytes

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")


def _target(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in ("Ref", "Fn::GetAtt"):
            if key in value:
                found = value[key]
                return str(found[0] if isinstance(found, list) else found).split(".")[0]
    return None


@pytest.mark.parametrize("n", [1, 2, 3])
def test_each_worker_gives_up_on_its_queues_last_receive_and_knows_its_memory(n: int) -> None:
    # Given the worker's task definition and its request queue
    task = TEMPLATE.get(f"Processing{n}TaskDefinition")
    container = task.properties["ContainerDefinitions"][0]
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    queue = TEMPLATE.get(_target(env["REQUEST_QUEUE_URL"]) or "")
    # Then MAX_RECEIVE_COUNT is the queue's maxReceiveCount (the last receive is known) and
    # TASK_MEMORY_MIB is the task's own memory setting
    assert int(env["MAX_RECEIVE_COUNT"]) == int(
        queue.properties["RedrivePolicy"]["maxReceiveCount"]
    )
    assert env["TASK_MEMORY_MIB"] == task.properties["Memory"]
    # and JOB_CONCURRENCY is the deployer's setting, one job at a time unless raised
    concurrency = TEMPLATE.parameters["AlgorithmWorkerJobConcurrency"]
    assert env["JOB_CONCURRENCY"] == {"Ref": "AlgorithmWorkerJobConcurrency"}
    assert concurrency["Default"] == 1
    assert (concurrency["MinValue"], concurrency["MaxValue"]) == (1, 16)


def test_every_request_dead_letter_queue_is_consumed_by_the_dead_letter_function() -> None:
    # Given the request queues' DLQs
    dlqs = {
        _target(
            TEMPLATE.get(f"Processing{n}RequestQueue").properties["RedrivePolicy"][
                "deadLetterTargetArn"
            ]
        )
        for n in (1, 2, 3)
    }
    # When the function's SQS events are read
    function = TEMPLATE.get("JobDeadLettersFunction")
    consumed = {
        _target(e["Properties"]["Queue"])
        for e in function.properties["Events"].values()
        if e["Type"] == "SQS"
    }
    # Then each DLQ is one of them, with partial batch responses
    assert dlqs == consumed
    assert all(
        e["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        for e in function.properties["Events"].values()
    )


def test_the_sweeper_runs_on_a_schedule_the_local_cloud_can_drive() -> None:
    # Given the sweeper's events
    events = TEMPLATE.get("JobSweeperFunction").properties["Events"]
    schedules = [e["Properties"]["Schedule"] for e in events.values() if e["Type"] == "Schedule"]
    # Then one rate() schedule
    assert [rate_seconds(s) for s in schedules] == [300]


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(2 hours)", 7200),
        ("rate(1 day)", 86_400),
        ("rate(0 minutes)", None),
        ("cron(0 12 * * ? *)", None),
    ],
)
def test_rate_expressions_are_read_as_eventbridge_reads_them(
    expression: str, seconds: int | None
) -> None:
    assert rate_seconds(expression) == seconds


def test_a_schedule_invokes_its_function_with_a_scheduled_event_every_period() -> None:
    # Given a schedule of 0.05 s
    invoked: list[tuple[str, dict[str, Any]]] = []
    source = ScheduleEventSource(
        invoke=lambda function, event: invoked.append((function, event)),
        function="JobSweeperFunction",
        rule_arn="arn:aws:events:us-east-1:123456789012:rule/stack-JobSweeperFunctionSweep",
        region="us-east-1",
        account_id="123456789012",
        period_seconds=0.05,
    )
    # When it runs for a few periods
    source.start()
    try:
        time.sleep(0.3)
    finally:
        source.stop()
    # Then the function got EventBridge's scheduled events
    assert len(invoked) >= 2
    function, event = invoked[0]
    assert function == "JobSweeperFunction"
    assert (event["source"], event["detail-type"]) == ("aws.events", "Scheduled Event")
    assert event["resources"] == [source.rule_arn]


def test_the_estimate_counts_stored_pixels_working_images_and_one_frames_temporaries() -> None:
    # Given one 512 x 512 16-bit slice
    size = InstanceSize(rows=512, columns=512, bits_allocated=16)
    pixels = 512 * 512
    # When / Then: 2 x 2 bytes stored, 14 bytes held, and the frame's 2 + 48 bytes transient
    assert estimate_bytes([size]) == pixels * (2 * 2 + 14) + pixels * (2 + 48)
    assert estimate_bytes([]) == 0
    # ...a series holds every slice, but works on one frame at a time
    assert estimate_bytes([size] * 10) == 10 * pixels * 18 + pixels * 50


def test_the_budget_is_the_task_memory_less_what_is_reserved() -> None:
    # Given a 2048 MiB task with 512 MiB reserved
    budget = MemoryBudget(task_memory_mib=2048, reserved_mib=512)
    fits = [InstanceSize(rows=512, columns=512)] * 300  # about 1.3 GiB
    too_much = [InstanceSize(rows=512, columns=512)] * 400  # about 1.7 GiB
    # When / Then
    assert budget.limit_bytes == 1536 * MIB
    assert budget.check(fits, "series s") <= budget.limit_bytes
    with pytest.raises(OverMemoryBudget) as refused:
        budget.check(too_much, "series s")
    assert isinstance(refused.value, JobInputError)
    assert str(refused.value).startswith("series s is too large to process: 400 instance(s)")


def test_jobs_that_run_at_once_share_the_budget_equally() -> None:
    # Given the same task running two jobs at once
    budget = MemoryBudget(task_memory_mib=2048, reserved_mib=512, shares=2)
    fits = [InstanceSize(rows=512, columns=512)] * 150  # about 0.65 GiB
    too_much = [InstanceSize(rows=512, columns=512)] * 200  # about 0.87 GiB
    # When / Then: each has half of it, and a refusal says why it is smaller
    assert budget.limit_bytes == 768 * MIB
    assert budget.check(fits, "series s") <= budget.limit_bytes
    with pytest.raises(OverMemoryBudget) as refused:
        budget.check(too_much, "series s")
    assert "shared by 2 jobs at once" in str(refused.value)
