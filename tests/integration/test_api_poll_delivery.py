"""The polling path end to end under moto: provision a poll client, a worker publishes its result
to ResultsTopic, and GET /results returns it (and only once)."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from pipeline_common import aws
from pipeline_common.contracts.clients import PolledResults
from tests.support.functions import load_function
from tests.support.test_api_aws import (
    SAMPLE_OUTPUT_BUCKET,
    FakeLambdaContext,
    body_of,
    create_provisioner_stack,
    load_event,
)


def test_a_published_result_reaches_the_polling_client_once(monkeypatch: pytest.MonkeyPatch):
    with mock_aws():
        aws.clear_clients()
        environment = create_provisioner_stack()
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        topic_arn = environment["RESULTS_TOPIC_ARN"]
        monkeypatch.setenv("OUTPUT_BUCKET", SAMPLE_OUTPUT_BUCKET)
        monkeypatch.setenv("WAIT_TIME_SECONDS", "1")

        # Given a polling client of Alice's (the sample events are hers)
        provisioner = load_function("provisioner")
        client_id = body_of(
            provisioner.lambda_handler(load_event("provisioner_poll"), FakeLambdaContext())
        )["client_id"]

        # And a worker's result for it published the way workers publish
        result = json.loads(load_event("result_push_batch")["Records"][0]["body"])
        result["client_id"] = client_id
        boto3.client("sns").publish(
            TopicArn=topic_arn,
            Message=json.dumps(result),
            MessageAttributes={"client_id": {"DataType": "String", "StringValue": client_id}},
            MessageGroupId=client_id,
            MessageDeduplicationId=result["job_id"],
        )

        # When the client polls twice
        proxy = load_function("results_proxy")
        event = load_event("results_proxy_poll")
        event["queryStringParameters"]["client_id"] = client_id
        first = PolledResults.model_validate_json(
            proxy.lambda_handler(event, FakeLambdaContext())["body"]
        )
        second = PolledResults.model_validate_json(
            proxy.lambda_handler(event, FakeLambdaContext())["body"]
        )

        # Then the first poll has the result with a signed overlay link, the second nothing
        assert [r.job_id for r in first.results] == [result["job_id"]]
        assert first.results[0].overlay_url is not None
        assert second.results == []
    aws.clear_clients()
