"""RouterFunction against moto: the sample REST events in (Alice's, with her Cognito claims),
JobsTable (created from template.yaml, owner-index included) and the FIFO queues out."""

from __future__ import annotations

import json
import sys
import threading
from datetime import UTC, datetime, timedelta
from types import ModuleType

import boto3
import pytest

from pipeline_common.contracts.jobs import JobMessage
from tests.support.api_aws import (
    ALGORITHMS,
    SAMPLE_CLIENT_ID,
    SAMPLE_JOB_ID,
    FakeLambdaContext,
    body_of,
    create_fifo_queue,
    create_table,
    drain,
    load_event,
    put_client,
    table_items,
)
from tests.support.functions import load_function
from tests.support.tenancy import ALICE, BOB, CAROL_ADMIN, as_user, without_claims

BOBS_CLIENT_ID = "b0b0b0b0c1e0000000000000000000b0"


@pytest.fixture
def queues(mocked_aws: None) -> dict[str, str]:
    return {algo: create_fifo_queue(f"pipeline-{algo}-requests") for algo in ALGORITHMS}


def _environment(monkeypatch: pytest.MonkeyPatch, queues: dict[str, str]) -> None:
    monkeypatch.setenv("JOBS_TABLE", create_table("JobsTable"))
    monkeypatch.setenv("CLIENTS_TABLE", create_table("ClientsTable"))
    monkeypatch.setenv("ALGORITHM_QUEUES", json.dumps(queues))
    monkeypatch.setenv("JOB_TTL_DAYS", "30")
    put_client("ClientsTable", SAMPLE_CLIENT_ID, owner=ALICE.sub)
    put_client("ClientsTable", BOBS_CLIENT_ID, owner=BOB.sub)


@pytest.fixture
def router(queues: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    _environment(monkeypatch, queues)
    return load_function("router")


def invoke(router: ModuleType, event: dict) -> dict:
    return router.lambda_handler(event, FakeLambdaContext())


def job_item(job_id: str) -> dict:
    return boto3.client("dynamodb").get_item(TableName="JobsTable", Key={"job_id": {"S": job_id}})[
        "Item"
    ]


def with_body(event: dict, **changes: object) -> dict:
    body = json.loads(event["body"])
    body.update(changes)
    return {**event, "body": json.dumps(body)}


def test_process_records_the_job_for_its_owner_and_queues_it(router, queues):
    # Given Alice's sample request for processing_1, to her own client
    event = load_event("router_process")

    # When it is submitted
    response = invoke(router, event)

    # Then it is accepted, recorded QUEUED as Alice's with an ISO-8601 UTC time, and queued
    assert response["statusCode"] == 202
    accepted = body_of(response)
    assert accepted["status"] == "QUEUED"
    item = job_item(accepted["job_id"])
    assert item["status"]["S"] == "QUEUED"
    assert item["owner"]["S"] == ALICE.sub
    assert item["client_id"]["S"] == SAMPLE_CLIENT_ID
    assert item["algo_id"]["S"] == "processing_1"
    assert len(item["request_hash"]["S"]) == 64
    assert int(item["ttl"]["N"]) > 0
    created = datetime.fromisoformat(item["created_at"]["S"])
    assert created.utcoffset() == timedelta(0)
    assert item["created_at"]["S"].endswith("+00:00")
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


def test_another_users_job_id_is_a_conflict_that_says_nothing_about_the_job(router, queues):
    # Given Alice's job under a chosen id, and the answer Alice gets for reusing it herself
    event = load_event("router_process_with_job_id")
    invoke(router, event)
    own_conflict = invoke(
        router, with_body(event, pacs={"study_id": "1.2", "series_id": "1.3", "scope": "series"})
    )

    # When Bob submits to his own client under the same id (his own request)
    response = invoke(router, as_user(with_body(event, client_id=BOBS_CLIENT_ID), BOB))

    # Then he gets the very same 409 body: the id is taken, nothing about whose job or what it does
    assert response["statusCode"] == 409
    assert body_of(response) == body_of(own_conflict)
    assert body_of(response)["error"]["code"] == "job_id_conflict"
    assert job_item(SAMPLE_JOB_ID)["owner"]["S"] == ALICE.sub
    assert [m["Attributes"]["MessageGroupId"] for m in drain(queues["processing_2"])] == [
        SAMPLE_CLIENT_ID
    ]


def test_replaying_another_users_identical_request_does_not_return_their_job(router, queues):
    # Given Alice's job; Bob has learnt its id and her exact body (her client id included)
    event = load_event("router_process_with_job_id")
    invoke(router, event)

    # When Bob sends it as his
    response = invoke(router, as_user(event, BOB))

    # Then Alice's client is not his: the same 404 as for any unknown client, nothing sent again
    assert response["statusCode"] == 404
    assert body_of(response)["error"]["field"] == "client_id"
    assert len(drain(queues["processing_2"])) == 1


def unknown_client_answer(router: ModuleType, client_id: str, user=ALICE) -> dict:
    event = as_user(with_body(load_event("router_process"), client_id=client_id), user)
    response = invoke(router, event)
    assert response["statusCode"] == 404, response
    return body_of(response)


def test_a_missing_client_is_404_naming_client_id(router, queues):
    error = unknown_client_answer(router, "0000000000000000deadbeef")["error"]

    assert (error["code"], error["field"]) == ("unknown_client", "client_id")
    assert len(table_items("JobsTable")) == 0
    assert drain(queues["processing_1"]) == []


def test_another_users_client_is_the_same_404_as_a_missing_one(router, queues):
    # When Alice names Bob's client, and a client that does not exist
    foreign = unknown_client_answer(router, BOBS_CLIENT_ID)
    missing = unknown_client_answer(router, "0000000000000000deadbeef")

    # Then both answers are the same, and nothing is recorded or queued
    assert foreign == missing
    assert len(table_items("JobsTable")) == 0
    assert drain(queues["processing_1"]) == []


def test_an_expired_client_is_the_same_404(router, queues):
    # Given a client of Alice's past its TTL (DynamoDB has not deleted the row yet)
    put_client("ClientsTable", "a11ce0000000000000expired", owner=ALICE.sub, ttl=1_700_000_000)

    expired = unknown_client_answer(router, "a11ce0000000000000expired")

    assert expired == unknown_client_answer(router, "0000000000000000deadbeef")
    assert len(table_items("JobsTable")) == 0


def test_an_admin_cannot_submit_to_another_users_client(router, queues):
    answer = unknown_client_answer(router, SAMPLE_CLIENT_ID, user=CAROL_ADMIN)

    assert answer["error"]["code"] == "unknown_client"
    assert drain(queues["processing_1"]) == []


@pytest.mark.parametrize("name", ["router_process", "router_list_algorithms"])
def test_a_request_without_verified_claims_is_401_and_records_nothing(router, queues, name):
    # Given a sample request with no authorizer context (whatever its body says)
    event = without_claims(load_event(name))

    response = invoke(router, event)

    assert response["statusCode"] == 401
    assert body_of(response)["error"]["code"] == "unauthorized"
    assert len(table_items("JobsTable")) == 0
    assert drain(queues["processing_1"]) == []


@pytest.fixture
def capped_router(queues: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    _environment(monkeypatch, queues)
    monkeypatch.setenv("MAX_JOBS_PER_MINUTE", "2")
    return load_function("router")


def test_over_the_job_rate_is_429_and_nothing_is_created(capped_router, queues):
    # Given Alice has submitted her two jobs of this minute
    event = load_event("router_process")
    assert [invoke(capped_router, event)["statusCode"] for _ in range(2)] == [202, 202]
    drain(queues["processing_1"])

    # When she submits a third
    response = invoke(capped_router, with_body(event, job_id="third-job-of-the-minute"))

    # Then it is refused with a reason, and no row or message was made for it
    assert response["statusCode"] == 429
    error = body_of(response)["error"]
    assert error["code"] == "job_rate_limited"
    assert "2 jobs per user" in error["message"]
    assert len(table_items("JobsTable")) == 2
    assert drain(queues["processing_1"]) == []


def test_the_job_rate_is_per_user(capped_router, queues):
    # Given Alice at her limit
    event = load_event("router_process")
    for _ in range(2):
        invoke(capped_router, event)

    # When Bob submits to his own client
    response = invoke(capped_router, as_user(with_body(event, client_id=BOBS_CLIENT_ID), BOB))

    # Then he is not held to Alice's count
    assert response["statusCode"] == 202


def test_another_users_client_is_404_even_over_the_rate(capped_router, queues):
    # Given Alice at her limit
    event = load_event("router_process")
    for _ in range(2):
        invoke(capped_router, event)
    drain(queues["processing_1"])

    # When she names Bob's client
    answer = unknown_client_answer(capped_router, BOBS_CLIENT_ID)

    # Then the client is judged first, as when the reads ran one after the other
    assert answer["error"]["code"] == "unknown_client"
    assert drain(queues["processing_1"]) == []


def test_the_client_check_and_the_rate_count_run_side_by_side(router, queues, monkeypatch):
    # Given each of the two reads waits (up to 5 s) until the other one has started: one after
    # the other, the first would never see the second and the request would fail
    logic = sys.modules["router_logic"]
    meeting = threading.Barrier(2, timeout=5)

    def once_both_started(read):
        def wrapped(*args, **kwargs):
            meeting.wait()
            return read(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(logic, "live_client_of", once_both_started(logic.live_client_of))
    monkeypatch.setattr(
        logic, "count_jobs_created_since", once_both_started(logic.count_jobs_created_since)
    )

    # When Alice submits
    response = invoke(router, load_event("router_process"))

    # Then both reads met, and the job was accepted and queued
    assert response["statusCode"] == 202
    assert not meeting.broken
    assert len(drain(queues["processing_1"])) == 1


def test_jobs_older_than_a_minute_do_not_count(capped_router, queues):
    # Given two jobs Alice submitted two minutes ago (as the router records them)
    old = (datetime.now(UTC) - timedelta(minutes=2)).isoformat(timespec="microseconds")
    for job_id in ("old-job-number-1", "old-job-number-2"):
        boto3.client("dynamodb").put_item(
            TableName="JobsTable",
            Item={
                "job_id": {"S": job_id},
                "owner": {"S": ALICE.sub},
                "created_at": {"S": old},
                "status": {"S": "DONE"},
            },
        )

    # When she submits now
    response = invoke(capped_router, load_event("router_process"))

    # Then the window has moved on
    assert response["statusCode"] == 202


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
    assert len(table_items("JobsTable")) == 0
    assert drain(queues["processing_1"]) == []


def test_a_queue_that_fails_leaves_no_job_behind(queues, monkeypatch):
    # Given a registry whose processing_3 queue does not exist
    broken = {**queues, "processing_3": queues["processing_3"].replace("requests", "missing")}
    _environment(monkeypatch, broken)
    router = load_function("router")
    event = load_event("router_process_with_job_id")
    event["pathParameters"] = {"algo_id": "processing_3"}
    event["path"] = "/process/processing_3"

    # When a job for it is submitted
    response = invoke(router, event)

    # Then the client is told to retry and no half-accepted job remains
    assert response["statusCode"] == 503
    assert len(table_items("JobsTable")) == 0


def test_algorithms_lists_the_registry(router):
    response = invoke(router, load_event("router_list_algorithms"))

    assert response["statusCode"] == 200
    assert body_of(response) == {"algorithms": list(ALGORITHMS)}


def allowed_origin(response: dict) -> list[str]:
    multi = response.get("multiValueHeaders") or {}
    if "Access-Control-Allow-Origin" in multi:
        return list(multi["Access-Control-Allow-Origin"])
    if "Access-Control-Allow-Origin" in (response.get("headers") or {}):
        return [response["headers"]["Access-Control-Allow-Origin"]]
    return []


def test_without_a_configured_origin_no_browser_origin_is_allowed(router, monkeypatch):
    monkeypatch.delenv("CORS_ALLOW_ORIGIN", raising=False)

    response = invoke(router, load_event("router_list_algorithms"))

    assert allowed_origin(response) == []


def test_a_configured_origin_is_the_one_allowed(queues, monkeypatch):
    # Given the API locked to the web console's origin (the sample events come from it)
    monkeypatch.setenv("CORS_ALLOW_ORIGIN", "http://localhost:5173")
    _environment(monkeypatch, queues)
    router = load_function("router")
    event = load_event("router_list_algorithms")

    # When the console calls, and when another site calls
    console = invoke(router, event)
    event["headers"]["Origin"] = "https://elsewhere.example"
    event["multiValueHeaders"]["Origin"] = ["https://elsewhere.example"]
    elsewhere = invoke(router, event)

    # Then only the console is allowed
    assert allowed_origin(console) == ["http://localhost:5173"]
    assert allowed_origin(elsewhere) == []


def test_malformed_registry_fails_at_start(queues, monkeypatch):
    monkeypatch.setenv("JOBS_TABLE", "JobsTable")
    monkeypatch.setenv("CLIENTS_TABLE", "ClientsTable")
    monkeypatch.setenv("ALGORITHM_QUEUES", json.dumps({"Processing 1": queues["processing_1"]}))

    with pytest.raises(ValueError, match="algorithm id"):
        load_function("router")
