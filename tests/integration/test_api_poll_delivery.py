"""The polling path end to end under moto: provision a poll client (no queue, no subscription),
a worker finishes its job the way workers do (``JobsTable.finish``, then the publish to
ResultsTopic), and GET /results returns it, again for the same cursor, never after next_cursor."""

from __future__ import annotations

import json

import boto3
import pytest

from algorithm_worker.jobs_table import JobsTable
from algorithm_worker.publisher import ResultPublisher
from pipeline_common.contracts.clients import PolledResults
from pipeline_common.contracts.jobs import JobMessage, JobResult
from tests.support.api_aws import (
    SAMPLE_OUTPUT_BUCKET,
    FakeLambdaContext,
    body_of,
    create_jobs_table,
    create_provisioner_stack,
    load_event,
)
from tests.support.functions import load_function


def test_a_finished_job_reaches_the_polling_client_without_any_subscription(
    mocked_aws: None,
    monkeypatch: pytest.MonkeyPatch,
):
    environment = create_provisioner_stack()
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    topic_arn = environment["RESULTS_TOPIC_ARN"]
    monkeypatch.setenv("JOBS_TABLE", create_jobs_table())
    monkeypatch.setenv("OUTPUT_BUCKET", SAMPLE_OUTPUT_BUCKET)
    monkeypatch.setenv("RESULTS_SETTLE_SECONDS", "0")

    # Given a polling client of Alice's (the sample events are hers)
    provisioner = load_function("provisioner")
    created = body_of(
        provisioner.lambda_handler(load_event("provisioner_poll"), FakeLambdaContext())
    )
    client_id = created["client_id"]

    # Then it has no queue and the results topic no subscription for it
    assert created["delivery"] == "poll"
    assert created.get("queue_url") is None
    assert boto3.client("sqs").list_queues().get("QueueUrls", []) == []
    subscriptions = boto3.client("sns").list_subscriptions_by_topic(TopicArn=topic_arn)
    assert subscriptions["Subscriptions"] == []

    # When a worker finishes a job of that client as workers do
    body = json.loads(load_event("result_push_batch")["Records"][0]["body"])
    result = JobResult.model_validate({**body, "client_id": client_id})
    job = JobMessage(
        job_id=result.job_id,
        client_id=client_id,
        algo_id=result.algo_id,
        pacs=result.pacs,
        submitted_at=result.completed_at,
    )
    table = JobsTable(boto3.client("dynamodb"), "JobsTable", ttl_days=30)
    assert table.claim(job, receive_count=1).claimed
    assert table.finish(result)
    ResultPublisher(boto3.client("sns"), topic_arn).publish(result)

    # And the client polls, repeats the same request, then follows next_cursor
    proxy = load_function("results_proxy")
    event = load_event("results_proxy_poll")
    event["queryStringParameters"]["client_id"] = client_id

    def polled(after: str = "") -> PolledResults:
        event["queryStringParameters"]["after"] = after
        response = proxy.lambda_handler(event, FakeLambdaContext())
        assert response["statusCode"] == 200, response
        return PolledResults.model_validate_json(response["body"])

    first, repeated = polled(), polled()
    following = polled(first.next_cursor)

    # Then the first poll has the result with a signed overlay link, a repeat has it again
    # (nothing was consumed), and after next_cursor there is nothing
    assert [r.job_id for r in first.results] == [result.job_id]
    assert first.results[0].overlay_url is not None
    assert [r.job_id for r in repeated.results] == [result.job_id]
    assert following.results == []
