"""The cost model's arithmetic on hand-computed cases (correctness only: no timing)."""

from __future__ import annotations

import pytest

from tools import cost_model as cm

DOC = cm.ROOT / "docs" / "cost-model.md"


@pytest.mark.parametrize(
    ("running_s", "billed_s"),
    [(0.25, 60.0), (21.25, 60.0), (60.0, 60.0), (60.2, 61.0), (117.0, 117.0)],
)
def test_fargate_bills_whole_seconds_with_a_one_minute_minimum(running_s, billed_s):
    # Given a task that ran running_s seconds / When it is billed
    # Then it pays whole seconds, never fewer than 60
    assert cm.fargate_billed_seconds(running_s) == billed_s


def test_one_minute_of_the_grayscale_task_size_costs_vcpu_plus_memory():
    # Given 1 vCPU and 2 GB at $0.03238/vCPU-h and $0.00356/GB-h
    # When one minute is priced
    minute = 60 * cm.fargate_second_usd(1.0, 2.0)

    # Then it is (0.03238 + 2 x 0.00356) / 60 = 0.000658333...
    assert minute == pytest.approx((0.03238 + 2 * 0.00356) / 60)
    assert minute == pytest.approx(0.00065833, rel=1e-4)


def test_per_object_mode_pays_the_minimum_for_every_object():
    # Given 1,000 objects, one task each: 20 s billed start + 1 s interpreter + 0.25 s of work
    tasks = cm.image_tasks(1_000, 1)

    # Then 1,000 tasks are each billed the 60 s minimum, for 50 s of codec work in all
    assert tasks.tasks == 1_000
    assert tasks.billed_task_seconds == 60_000
    assert tasks.work_seconds == pytest.approx(50.0)


def test_batched_mode_bills_one_task_per_batch_and_the_minimum_only_for_short_batches():
    # Given 2,500 objects in batches of 1,000: per image 1.2 x (0.050 + 0.030) = 0.096 s
    tasks = cm.image_tasks(2_500, 1_000)

    # Then two full batches run 21 + 96 = 117 s each and the last 500 run 21 + 48 = 69 s
    assert tasks.tasks == 3
    assert tasks.billed_task_seconds == pytest.approx(2 * 117 + 69)


def test_small_batches_still_pay_the_minimum():
    # Given 250 objects in batches of 100: 21 + 9.6 = 30.6 s and 21 + 4.8 = 25.8 s of running
    tasks = cm.image_tasks(250, 100)

    # Then each of the three tasks is billed 60 s
    assert tasks.tasks == 3
    assert tasks.billed_task_seconds == 180


def test_no_objects_no_tasks_and_a_batch_needs_one_object():
    assert cm.image_tasks(0, 100) == cm.ImageTasks(0, 0.0, 0.0)
    with pytest.raises(ValueError, match="batch_size"):
        cm.image_tasks(10, 0)


def test_transitions_follow_the_first_choice_and_stop_at_the_end():
    # Given a definition: Choice -> Pass -> Task -> Succeed (and a failure branch not taken)
    definition = {
        "StartAt": "Check",
        "States": {
            "Check": {"Type": "Choice", "Choices": [{"Next": "Prepare"}], "Default": "Fail"},
            "Prepare": {"Type": "Pass", "Next": "Work"},
            "Work": {"Type": "Task", "Next": "Done"},
            "Done": {"Type": "Succeed"},
            "Fail": {"Type": "Fail"},
        },
    }

    # Then four states are entered
    assert cm.happy_path_transitions(definition) == 4


def test_the_image_and_video_state_machines_bill_five_three_and_two_transitions():
    # Batch? -> Has version id? -> Use version id -> Run grayscale task -> Processed
    assert cm.image_transitions(batched=False) == 5
    # Batch? -> Run grayscale batch task -> Processed
    assert cm.image_transitions(batched=True) == 3
    # Run frame extractor task -> Ingested
    assert cm.definition_transitions("video_ingest.asl.json") == 2


def test_per_object_fargate_and_step_functions_lines_for_a_thousand_images():
    # Given 1,000 images, one task each
    result = cm.image_month(1_000, 1)

    # Then Fargate is 1,000 minutes of 1 vCPU + 2 GB, Step Functions 5,000 transitions at $0.025/1k
    assert result.lines["Fargate"] == pytest.approx(1_000 * (0.03238 + 2 * 0.00356) / 60)
    assert result.lines["Step Functions"] == pytest.approx(0.125)


def test_batching_divides_task_starts_and_fargate_cost():
    # Given 10 M images / When run per object and in batches of 100
    per_object = cm.image_month(10_000_000, 1)
    batched = cm.image_month(10_000_000, 100)

    # Then a batch of 100 still fits in the one-minute minimum: 100x fewer tasks, 100x cheaper
    assert per_object.tasks.tasks == 100 * batched.tasks.tasks
    assert per_object.lines["Fargate"] == pytest.approx(100 * batched.lines["Fargate"])
    assert batched.total < per_object.total


def test_a_burst_outlasts_the_ecs_retries_past_the_bucket_plus_75_seconds_of_refill():
    # Retries wait 5 + 10 + 20 + 40 = 75 s; the bucket holds 100 and refills 20/s
    assert cm.burst_before_failures() == 100 + 20 * 75


def test_capacity_uses_the_monthly_average_rate_and_little_s_law():
    # Given 10 M images a month, peak 3x average, per object
    capacity = cm.image_capacity(10_000_000, 1)

    # Then about 3.8 images/s on average; each task lives 20 s unbilled + 21.25 s billed
    assert capacity.average_images_s == pytest.approx(10_000_000 / (730 * 3600))
    assert capacity.launches_s == pytest.approx(3 * capacity.average_images_s)
    assert capacity.concurrent_tasks == pytest.approx(capacity.launches_s * 41.25)


def test_a_poll_client_pays_per_call_a_rest_request_a_lambda_and_a_query():
    # Given 720 calls an hour (every 5 s), each $3.50/M + $0.20/M + 0.025 GB-s + one RRU
    per_call = 3.5e-6 + 0.2e-6 + 0.25 * 0.1 * 0.0000133334 + 0.125e-6

    # Then an hour of polling costs 720 of them
    assert cm.poll_client_hour(5.0) == pytest.approx(720 * per_call)


def test_alarms_are_counted_from_the_template():
    alarms, metrics = cm.template_alarms()
    assert alarms > 0
    assert metrics >= alarms


def test_every_price_says_where_it_comes_from_and_when_it_was_read():
    for key, p in cm.PRICES.items():
        assert p.usd > 0, key
        assert p.source, key
        assert p.read_on, key
        assert p.status in ("cited", "recalled", "assumed"), key


def test_the_tables_render():
    text = cm.render()
    assert "per-object" in text
    assert "batched B=100" in text
    assert "### Prices used" in text


def test_the_doc_holds_the_script_s_current_tables():
    # Given docs/cost-model.md / When its generated section is read
    text = DOC.read_text(encoding="utf-8")
    begin, end = "<!-- cost_model:begin -->\n", "\n<!-- cost_model:end -->"
    generated = text[text.index(begin) + len(begin) : text.index(end)]

    # Then it is exactly what `python -m tools.cost_model` prints
    assert generated == cm.render()
