"""RouterFunction against moto: the sample REST events in, JobsTable and the FIFO queues out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType

import boto3
import pytest
from moto import mock_aws

from pipeline_common import aws
from pipeline_common.contracts.jobs import JobMessage
from tests.support.functions import load_function
from tests.support.test_api_aws import (
    ALGORITHMS,
    SAMPLE_CLIENT_ID,
    SAMPLE_JOB_ID,
    FakeLambdaContext,
    body_of,
    create_clients_table,
    create_fifo_queue,
    create_jobs_table,
    drain,
    load_event,
    put_client,
)


@pytest.fixture
def queues() -> Iterator[dict[str, str]]:
    with mock_aws():
        aws.clear_clients()
        yield {algo: create_fifo_queue(f"pipeline-{algo}-requests") for algo in ALGORITHMS}
    aws.clear_clients()


@pytest.fixture
def router(queues: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("JOBS_TABLE", create_jobs_table())
    monkeypatch.setenv("CLIENTS_TABLE", create_clients_table())
    monkeypatch.setenv("ALGORITHM_QUEUES", json.dumps(queues))
    monkeypatch.setenv("JOB_TTL_DAYS", "30")
    put_client("ClientsTable")
    return load_function("router")


def invoke(router: ModuleType, event: dict) -> dict:
    return router.lambda_handler(event, FakeLambdaContext())


def job_item(job_id: str) -> dict:
    return boto3.client("dynamodb").get_item(TableName="JobsTable", Key={"job_id": {"S": job_id}})[
        "Item"
    ]


def test_process_records_the_job_and_queues_it(router, queues):
    # Given the sample request for processing_1
    event = load_event("router_process")

    # When it is submitted
    response = invoke(router, event)

    # Then it is accepted with a job id, recorded QUEUED, and on processing_1's queue
    assert response["statusCode"] == 202
    accepted = body_of(response)
    assert accepted["status"] == "QUEUED"
    item = job_item(accepted["job_id"])
    assert item["status"]["S"] == "QUEUED"
    assert item["client_id"]["S"] == SAMPLE_CLIENT_ID
    assert item["algo_id"]["S"] == "processing_1"
    assert len(item["request_hash"]["S"]) == 64
    assert int(item["ttl"]["N"]) > 0
    [message] = drain(queues["processing_1"])
    assert message["Attributes"]["MessageGroupId"] == SAMPLE_CLIENT_ID
    assert message["Attributes"]["MessageDeduplicationId"] == accepted["job_id"]
    queued = JobMessage.model_validate_json(message["Body"])
    assert queued.job_id == accepted["job_id"]
    assert queued.correlation_id == event["requestContext"]["requestId"]
    assert JobMessage.model_validate_json(item["request"]["S"]) == queued
    assert drain(queues["processing_2"]) == []


def test_same_job_id_and_payload_is_accepted_once(router, queues):
    # Given a request that names its own job id
    event = load_event("router_process_with_job_id")

    # When it is submitted twice
    first = invoke(router, event)
    created_at = job_item(SAMPLE_JOB_ID)["created_at"]["S"]
    second = invoke(router, event)

    # Then both answers name the same job, the second as a duplicate, and one job is queued
    assert (first["statusCode"], second["statusCode"]) == (202, 202)
    assert body_of(first)["job_id"] == body_of(second)["job_id"] == SAMPLE_JOB_ID
    assert body_of(first)["duplicate"] is False
    assert body_of(second)["duplicate"] is True
    assert job_item(SAMPLE_JOB_ID)["created_at"]["S"] == created_at
    assert len(drain(queues["processing_2"])) == 1


def test_same_job_id_with_another_payload_conflicts(router, queues):
    # Given a job already submitted under a chosen id
    event = load_event("router_process_with_job_id")
    invoke(router, event)
    other = json.loads(event["body"])
    other["pacs"]["series_id"] = "1.2.3.4"
    event["body"] = json.dumps(other)

    # When another request reuses that id
    response = invoke(router, event)

    # Then it is refused with 409 naming job_id, and the first job is untouched
    assert response["statusCode"] == 409
    assert body_of(response)["error"]["field"] == "job_id"
    stored = JobMessage.model_validate_json(job_item(SAMPLE_JOB_ID)["request"]["S"])
    assert stored.pacs.series_id != "1.2.3.4"
    assert len(drain(queues["processing_2"])) == 1


def test_unknown_algorithm_is_404(router):
    response = invoke(router, load_event("router_unknown_algorithm"))

    assert response["statusCode"] == 404
    error = body_of(response)["error"]
    assert (error["code"], error["field"]) == ("unknown_algorithm", "algo_id")


def test_path_traversal_in_pacs_id_is_400_naming_the_field(router, queues):
    # Given a body whose study id tries to walk up the tree
    response = invoke(router, load_event("router_invalid_body"))

    # Then the field at fault is named and nothing is queued
    assert response["statusCode"] == 400
    assert body_of(response)["error"]["field"] == "pacs.study_id"
    assert drain(queues["processing_1"]) == []


def test_malformed_json_is_400(router):
    response = invoke(router, load_event("router_malformed_json"))

    assert response["statusCode"] == 400
    assert body_of(response)["error"]["code"] == "malformed_json"


def test_image_scope_without_image_id_is_400(router):
    # Given a request for one image that does not say which
    event = load_event("router_process")
    body = json.loads(event["body"])
    del body["pacs"]["image_id"]
    event["body"] = json.dumps(body)

    response = invoke(router, event)

    assert response["statusCode"] == 400
    assert body_of(response)["error"]["field"] == "pacs"


def test_body_over_the_limit_is_413_and_records_nothing(router, queues):
    # Given a valid request padded past MAX_BODY_BYTES (16384 by default)
    event = load_event("router_process")
    event["body"] = event["body"] + " " * 16384

    response = invoke(router, event)

    assert response["statusCode"] == 413
    assert boto3.client("dynamodb").scan(TableName="JobsTable")["Count"] == 0
    assert drain(queues["processing_1"]) == []


def test_unknown_client_is_400_naming_client_id(router):
    event = load_event("router_process")
    body = json.loads(event["body"])
    body["client_id"] = "0000000000000000deadbeef"
    event["body"] = json.dumps(body)

    response = invoke(router, event)

    assert response["statusCode"] == 400
    error = body_of(response)["error"]
    assert (error["code"], error["field"]) == ("unknown_client", "client_id")


def test_a_queue_that_fails_leaves_no_job_behind(queues, monkeypatch):
    # Given a registry whose processing_3 queue does not exist
    broken = {**queues, "processing_3": queues["processing_3"].replace("requests", "missing")}
    monkeypatch.setenv("JOBS_TABLE", create_jobs_table())
    monkeypatch.setenv("CLIENTS_TABLE", create_clients_table())
    monkeypatch.setenv("ALGORITHM_QUEUES", json.dumps(broken))
    put_client("ClientsTable")
    router = load_function("router")
    event = load_event("router_process_with_job_id")
    event["pathParameters"] = {"algo_id": "processing_3"}
    event["path"] = "/process/processing_3"

    # When a job for it is submitted
    response = invoke(router, event)

    # Then the client is told to retry and no half-accepted job remains
    assert response["statusCode"] == 503
    assert boto3.client("dynamodb").scan(TableName="JobsTable")["Count"] == 0


def test_algorithms_lists_the_registry(router):
    response = invoke(router, load_event("router_list_algorithms"))

    assert response["statusCode"] == 200
    assert body_of(response) == {"algorithms": list(ALGORITHMS)}


def allowed_origin(response: dict) -> list[str]:
    multi = response.get("multiValueHeaders") or {}
    if "Access-Control-Allow-Origin" in multi:
        return list(multi["Access-Control-Allow-Origin"])
    return [response["headers"]["Access-Control-Allow-Origin"]]


def test_responses_allow_any_origin_by_default(router):
    response = invoke(router, load_event("router_list_algorithms"))

    assert allowed_origin(response) == ["*"]


def test_a_configured_origin_is_the_one_allowed(queues, monkeypatch):
    # Given the API locked to the web console's origin (the sample events come from it)
    monkeypatch.setenv("CORS_ALLOW_ORIGIN", "http://localhost:5173")
    monkeypatch.setenv("JOBS_TABLE", create_jobs_table())
    monkeypatch.setenv("CLIENTS_TABLE", create_clients_table())
    monkeypatch.setenv("ALGORITHM_QUEUES", json.dumps(queues))
    router = load_function("router")
    event = load_event("router_list_algorithms")

    # When the console calls, and when another site calls
    console = invoke(router, event)
    event["headers"]["Origin"] = "https://elsewhere.example"
    event["multiValueHeaders"]["Origin"] = ["https://elsewhere.example"]
    elsewhere = invoke(router, event)

    # Then only the console is allowed
    assert allowed_origin(console) == ["http://localhost:5173"]
    assert "Access-Control-Allow-Origin" not in (elsewhere.get("multiValueHeaders") or {})
    assert "Access-Control-Allow-Origin" not in (elsewhere.get("headers") or {})


def test_malformed_registry_fails_at_start(queues, monkeypatch):
    monkeypatch.setenv("JOBS_TABLE", "JobsTable")
    monkeypatch.setenv("CLIENTS_TABLE", "ClientsTable")
    monkeypatch.setenv("ALGORITHM_QUEUES", json.dumps({"Processing 1": queues["processing_1"]}))

    with pytest.raises(ValueError, match="algorithm id"):
        load_function("router")
