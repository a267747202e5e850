"""The failure path shared by the dispatchers: a rejection is one message on the pipeline's
queue (deduplicated on a FIFO queue); an object that could not be dispatched is retried, by its
SQS message or by the raised ``DispatchFailed``; an existing execution name means "done"."""

from __future__ import annotations

import json

import boto3
import pytest

from pipeline_common.contracts import S3Location
from pipeline_common.contracts.image import ImageProcessingResult, ImageStatus
from pipeline_common.s3_dispatch import DispatchFailed, Failures, report_rejection, start_execution


@pytest.fixture
def aws(mocked_aws: None) -> None:
    """moto for every AWS call of the test (the root ``mocked_aws``)."""


def _result() -> ImageProcessingResult:
    return ImageProcessingResult(
        status=ImageStatus.FAILED,
        stage="dispatch",
        reason="input object is empty (0 bytes)",
        correlation_id="img-0123",
        input=S3Location(bucket="bkt", key="a.jpg", version_id="v1"),
        input_bytes=0,
    )


def test_failures_from_sqs_are_returned_as_message_ids_once_each() -> None:
    # Given two records of one message and one of another that could not be dispatched
    failures = Failures()
    failures.add("s3://b/x.jpg", "m-2")
    failures.add("s3://b/y.jpg", "m-2")
    failures.add("s3://b/z.jpg", "m-1")

    # When / Then each message is returned once, for the queue to redeliver
    assert failures.settle(total=5) == ["m-1", "m-2"]


def test_failures_of_a_direct_invocation_raise_naming_each_object() -> None:
    # Given a direct S3 invocation where one of three records failed
    failures = Failures()
    failures.add("s3://b/broken.jpg", None)

    # When / Then the error names it, so Lambda retries the event (then dead-letters it)
    with pytest.raises(DispatchFailed, match=r"^1 of 3 records failed: s3://b/broken\.jpg$"):
        failures.settle(total=3)


def test_no_failure_settles_quietly() -> None:
    assert Failures().settle(total=0) == []


def test_a_rejection_on_a_standard_queue_carries_its_attributes(aws: None) -> None:
    # Given a standard queue filtered by message attributes
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="ImageProcessingQueue")["QueueUrl"]

    # When a rejection is reported
    result = _result()
    report_rejection(url, result, attributes={"kind": "image.result", "status": "FAILED"})

    # Then one message carries the contract and the attributes
    (message,) = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert message["Body"] == result.model_dump_json()
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes == {"kind": "image.result", "status": "FAILED"}


def test_a_rejection_reported_twice_on_a_fifo_queue_is_one_message(aws: None) -> None:
    # Given a FIFO queue
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="results.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]

    # When a redelivered notification reports the same rejection again
    for _ in range(2):
        report_rejection(url, _result(), fifo_ids=("group-1", "video-1:failed:video"))

    # Then the queue holds it once
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    assert "MessageAttributes" not in messages[0]


def test_an_existing_execution_name_is_already_dispatched(aws: None) -> None:
    # Given a state machine
    arn = boto3.client("stepfunctions").create_state_machine(
        name="Pipeline",
        definition=json.dumps(
            {"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}}
        ),
        roleArn="arn:aws:iam::123456789012:role/Pipeline",
    )["stateMachineArn"]

    # When one name is started twice (the second with another input, as after a redeploy)
    first = start_execution(arn, "img-abc", json.dumps({"n": 1}))
    second = start_execution(arn, "img-abc", json.dumps({"n": 2}))

    # Then the second start is told it already exists, and only one execution is there
    assert (first, second) == (True, False)
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]
    assert [e["name"] for e in executions] == ["img-abc"]


def test_other_start_errors_are_raised_for_a_retry(aws: None) -> None:
    # Given a state machine that does not exist
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:Gone"

    # When / Then the error is raised (the caller marks the object failed, to be retried)
    with pytest.raises(Exception, match="StateMachineDoesNotExist"):
        start_execution(arn, "img-abc", "{}")
