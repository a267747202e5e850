"""The image contracts against the sample events that sam local invoke and the tests share."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from pipeline_common.contracts import S3Location
from pipeline_common.contracts.image import (
    ImageProcessingInput,
    ImageProcessingResult,
    ImageStatus,
)

EVENTS = Path(__file__).resolve().parents[2] / "events"


def _event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def test_state_machine_input_sample_round_trips() -> None:
    # Given the sample state machine input
    raw = _event("image_processing_input.json")

    # When it is parsed and dumped again
    parsed = ImageProcessingInput.model_validate(raw)

    # Then nothing is lost or added
    assert parsed.model_dump(mode="json") == raw
    assert parsed.location.uri == "s3://image-input-bucket/uploads/bus.jpg"


@pytest.mark.parametrize(
    "name", ["image_processing_result_succeeded.json", "image_processing_result_failed.json"]
)
def test_result_samples_round_trip(name: str) -> None:
    # Given a sample message of ImageProcessingQueue
    raw = _event(name)

    # When it is parsed and dumped again
    parsed = ImageProcessingResult.model_validate(raw)

    # Then it is the same message
    again = json.loads(parsed.model_dump_json())
    assert again.pop("completed_at").startswith(raw.pop("completed_at")[:19])
    assert again == raw


def test_failed_result_without_reason_is_refused() -> None:
    # Given / When / Then a FAILED message that does not say why is not a valid message
    with pytest.raises(ValidationError, match="reason"):
        ImageProcessingResult(
            status=ImageStatus.FAILED,
            stage="decode",
            input=S3Location(bucket="bucket-a", key="a.jpg"),
        )


def test_succeeded_result_without_output_is_refused() -> None:
    # Given / When / Then a SUCCEEDED message must name its output
    with pytest.raises(ValidationError, match="output"):
        ImageProcessingResult(
            status=ImageStatus.SUCCEEDED,
            stage="completed",
            input=S3Location(bucket="bucket-a", key="a.jpg"),
        )


def test_unknown_fields_are_refused() -> None:
    # Given a message with a typo in a field name
    raw = _event("image_processing_result_failed.json") | {"reasn": "typo"}

    # When / Then it does not pass silently
    with pytest.raises(ValidationError, match="reasn"):
        ImageProcessingResult.model_validate(raw)


def test_state_machine_failure_message_shape_is_a_valid_result() -> None:
    # Given the message the state machine's Catch sends (fields as in the ASL's MessageBody)
    asl = json.loads(
        (EVENTS.parent / "statemachines" / "image_processing.asl.json").read_text("utf-8")
    )
    body = asl["States"]["Report task failure"]["Parameters"]["MessageBody"]
    sample_input = _event("image_processing_input.json")
    message = {
        key.removesuffix(".$"): value for key, value in body.items() if not key.endswith(".$")
    }
    message |= {
        "reason": "grayscale task stopped: Essential container exited (container exit code 1)",
        "correlation_id": sample_input["correlation_id"],
        "input": {k: sample_input[k] for k in ("bucket", "key", "version_id")},
        "input_bytes": sample_input["size"],
        "completed_at": "2025-11-23T10:16:02.031Z",
    }

    # When it is parsed with the contract
    parsed = ImageProcessingResult.model_validate(message)

    # Then it is a FAILED result of the task stage, and the ASL sets exactly these fields
    assert parsed.status == ImageStatus.FAILED
    assert parsed.stage == "task"
    assert {k.removesuffix(".$") for k in body} == set(message)
