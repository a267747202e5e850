"""JobStatusFunction against moto: status, timings and a result with links signed on demand."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
from moto import mock_aws

from pipeline_common import aws
from pipeline_common.contracts.clients import JobView
from tests.support.functions import load_function
from tests.support.test_api_aws import (
    SAMPLE_CLIENT_ID,
    SAMPLE_JOB_ID,
    SAMPLE_OUTPUT_BUCKET,
    FakeLambdaContext,
    body_of,
    create_jobs_table,
    load_event,
)


@pytest.fixture
def job_status(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    with mock_aws():
        aws.clear_clients()
        monkeypatch.setenv("JOBS_TABLE", create_jobs_table())
        monkeypatch.setenv("OUTPUT_BUCKET", SAMPLE_OUTPUT_BUCKET)
        monkeypatch.setenv("PRESIGN_EXPIRY_SECONDS", "600")
        yield load_function("job_status")
    aws.clear_clients()


def sample_result() -> dict:
    """The DONE result of the sample push event, as a worker would store it."""
    record = load_event("result_push_batch")["Records"][0]
    return json.loads(record["body"])


def put_job(status: str, **extra: str) -> None:
    item = {
        "job_id": {"S": SAMPLE_JOB_ID},
        "status": {"S": status},
        "client_id": {"S": SAMPLE_CLIENT_ID},
        "algo_id": {"S": "processing_1"},
        "request_hash": {"S": "0" * 64},
        "created_at": {"S": "2026-01-19T09:15:32.114000+00:00"},
        "updated_at": {"S": "2026-01-19T09:15:33.402000+00:00"},
        "ttl": {"N": "4102444800"},
    }
    item.update({key: {"S": value} for key, value in extra.items()})
    boto3.client("dynamodb").put_item(TableName="JobsTable", Item=item)


def invoke(fn: ModuleType, event: dict) -> dict:
    return fn.lambda_handler(event, FakeLambdaContext())


def test_queued_job_has_status_and_no_result(job_status):
    put_job("QUEUED")

    response = invoke(job_status, load_event("job_status_get"))

    assert response["statusCode"] == 200
    view = JobView.model_validate_json(response["body"])
    assert (view.status, view.result, view.started_at) == ("QUEUED", None, None)
    assert view.created_at is not None


def test_done_job_has_its_result_with_fresh_presigned_links(job_status):
    # Given a job a worker finished
    result = sample_result()
    put_job(
        "DONE",
        started_at="2026-01-19T09:15:32.300000+00:00",
        completed_at=result["completed_at"],
        result=json.dumps(result),
    )

    # When its status is read
    response = invoke(job_status, load_event("job_status_get"))

    # Then the result's outputs come back as links signed for PRESIGN_EXPIRY_SECONDS
    view = JobView.model_validate_json(response["body"])
    assert view.status == "DONE"
    assert view.timings_ms == result["timings_ms"]
    assert view.result is not None
    assert view.result.measurements == result["measurements"]
    for url, key in (
        (view.result.overlay_url, result["outputs"]["overlay"]["key"]),
        (view.result.result_url, result["outputs"]["result"]["key"]),
    ):
        assert url is not None
        parsed = urlparse(url)
        assert SAMPLE_OUTPUT_BUCKET in parsed.netloc + parsed.path
        assert parsed.path.endswith(key)
        query = parse_qs(parsed.query)
        assert query["X-Amz-Expires"] == ["600"]
        assert "X-Amz-Signature" in query


def test_failed_job_says_why(job_status):
    failed = json.loads(load_event("result_push_batch")["Records"][1]["body"])
    failed["job_id"] = SAMPLE_JOB_ID
    put_job("FAILED", result=json.dumps(failed))

    view = JobView.model_validate_json(invoke(job_status, load_event("job_status_get"))["body"])

    assert view.status == "FAILED"
    assert view.reason == failed["reason"]
    assert view.result is not None
    assert view.result.overlay_url is None


def test_outputs_outside_the_output_bucket_are_not_signed(job_status):
    # Given a stored result naming another bucket
    result = sample_result()
    result["outputs"]["overlay"]["bucket"] = "someone-elses-bucket"
    put_job("DONE", result=json.dumps(result))

    view = JobView.model_validate_json(invoke(job_status, load_event("job_status_get"))["body"])

    # Then nothing is signed, but the result is still reported
    assert view.result is not None
    assert view.result.overlay_url is None
    assert view.result.result_url is None


def test_unknown_job_is_404(job_status):
    response = invoke(job_status, load_event("job_status_get"))

    assert response["statusCode"] == 404
    assert body_of(response)["error"]["code"] == "unknown_job"


def test_malformed_job_id_is_400(job_status):
    response = invoke(job_status, load_event("job_status_invalid_id"))

    assert response["statusCode"] == 400
    assert body_of(response)["error"]["field"] == "job_id"
