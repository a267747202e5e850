"""JobStatusFunction against moto: status, timings and a result with links signed on demand, shown
to the job's owner and to admins only."""

from __future__ import annotations

import json
from types import ModuleType
from urllib.parse import parse_qs, urlparse

import boto3
import pytest

from pipeline_common.contracts.clients import JobView
from tests.support.api_aws import (
    SAMPLE_CLIENT_ID,
    SAMPLE_JOB_ID,
    SAMPLE_OUTPUT_BUCKET,
    FakeLambdaContext,
    body_of,
    create_table,
    load_event,
)
from tests.support.functions import load_function
from tests.support.tenancy import ALICE, BOB, as_user, without_claims


@pytest.fixture
def job_status(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("JOBS_TABLE", create_table("JobsTable"))
    monkeypatch.setenv("OUTPUT_BUCKET", SAMPLE_OUTPUT_BUCKET)
    monkeypatch.setenv("PRESIGN_EXPIRY_SECONDS", "240")
    return load_function("job_status")


def sample_result() -> dict:
    """The DONE result of the sample push event, as a worker would store it."""
    record = load_event("result_push_batch")["Records"][0]
    return json.loads(record["body"])


def put_job(status: str, owner: str | None = ALICE.sub, **extra: str) -> None:
    """A job row as the router writes it (Alice's, the sample events' user, by default)."""
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
    if owner is not None:
        item["owner"] = {"S": owner}
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
        assert query["X-Amz-Expires"] == ["240"]
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


def test_another_users_job_is_the_same_404_as_a_missing_one(job_status):
    # Given the answer for a job that does not exist, then Alice's job
    missing = invoke(job_status, as_user(load_event("job_status_get"), BOB))
    put_job("DONE", result=json.dumps(sample_result()))

    # When Bob asks for Alice's job
    foreign = invoke(job_status, as_user(load_event("job_status_get"), BOB))

    # Then he gets exactly the answer for a job that does not exist
    assert foreign["statusCode"] == missing["statusCode"] == 404
    assert foreign["body"] == missing["body"]


def test_an_admin_sees_any_users_job(job_status):
    put_job("DONE", result=json.dumps(sample_result()))

    response = invoke(job_status, load_event("job_status_admin"))

    assert response["statusCode"] == 200
    view = JobView.model_validate_json(response["body"])
    assert (view.job_id, view.status) == (SAMPLE_JOB_ID, "DONE")
    assert view.result is not None
    assert view.result.overlay_url is not None


def test_a_job_without_owner_is_visible_to_admins_only(job_status):
    # Given a row a worker created without the router (no owner recorded)
    put_job("RUNNING", owner=None)

    owner = invoke(job_status, load_event("job_status_get"))
    admin = invoke(job_status, load_event("job_status_admin"))

    assert (owner["statusCode"], admin["statusCode"]) == (404, 200)


def test_a_request_without_verified_claims_is_401(job_status):
    put_job("QUEUED")

    response = invoke(job_status, without_claims(load_event("job_status_get")))

    assert response["statusCode"] == 401
    assert body_of(response)["error"]["code"] == "unauthorized"
