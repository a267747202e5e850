"""The job API end to end on the local cloud: REST -> per-algorithm FIFO queues -> DICOM workers
(PACS API over the load balancer) -> JobsTable and SNS FIFO topic -> WebSocket push, and polling
GET /results (JobsTable's client-results-index, with a cursor). The push scenario takes
``any_stack``: it runs on a deployed stack too (``AWS_SAM_STACK_NAME``)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from clients.load import run_load
from tests.e2e.conftest import RestApi
from tests.support.stack_interface import Stack
from tests.support.users import StackUser
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def user(new_user: Callable[..., StackUser]) -> StackUser:
    """This module's own user: its clients and jobs count against nobody else's limits."""
    return new_user("jobs")


@pytest.fixture(scope="module")
def push_client(rest: RestApi, user: StackUser) -> dict[str, Any]:
    """One push client for the tests that need a client but not a fresh one (the per-user
    client-creation rate is 10 a minute)."""
    return _client(rest, user)


def _instance(pacs: list[Any], source: str) -> dict[str, str]:
    item = next(o for o in pacs if o.source == source)
    return {"study_id": item.study_id, "series_id": item.series_id, "image_id": item.instance_id}


def _client(rest: RestApi, user: StackUser, delivery: str = "push") -> dict[str, Any]:
    response = rest("POST", "/clients", user=user, json={"delivery": delivery})
    assert response.status_code == 201, response.text
    return response.json()


def _final_job(rest: RestApi, user: StackUser, job_id: str) -> dict[str, Any]:
    def final() -> dict[str, Any]:
        body: dict[str, Any] = rest("GET", f"/jobs/{job_id}", user=user).json()
        return body if body.get("status") in ("DONE", "FAILED") else {}

    return wait_for(final, timeout=90, what=f"job {job_id}")


def test_result_is_pushed_to_its_own_client_only(any_stack: Stack, any_pacs):
    # Given two push clients of one user, connected at once (each with its one-time ticket)
    ct = _instance(any_pacs, "CT_small.dcm")
    user = any_stack.new_user("pushed")

    # When each submits jobs
    report = asyncio.run(
        run_load(
            any_stack.endpoints(),
            auth=user.id_token,
            jobs=6,
            clients=2,
            pacs=ct,
            algorithms=["processing_1"],
            timeout=any_stack.task_timeout,
        )
    )

    # Then every job is pushed once, to the client that submitted it
    assert report.missing() == []
    assert report.misdelivered() == []
    assert report.duplicates() == []
    result = next(iter(report.pushed.values()))[0][1]
    assert result["status"] == "DONE"
    assert result["measurements"]["component_count"] > 0
    overlay = requests.get(result["overlay_url"], timeout=30)
    assert overlay.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_poll_mode_client_gets_its_results_from_get_results(stack, rest, pacs, user):
    # Given a poll-mode client (no queue, no subscription: GET /results reads JobsTable)
    client = _client(rest, user, "poll")
    assert client.get("queue_url") is None

    # When it submits a series job
    mr = next(o for o in pacs if o.source.startswith("dicomdirtests/"))
    body = {
        "client_id": client["client_id"],
        "pacs": {"study_id": mr.study_id, "series_id": mr.series_id, "scope": "series"},
    }
    job = rest("POST", "/process/processing_2", user=user, json=body)
    assert job.status_code == 202, job.text

    # Then GET /results returns it (with presigned links) after the client's cursor
    def page(after: str = "", wait_seconds: int = 0) -> dict[str, Any]:
        query: dict[str, Any] = {"client_id": client["client_id"], "wait_seconds": wait_seconds}
        if after:
            query["after"] = after
        response = rest("GET", "/results", user=user, params=query)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def arrived() -> dict[str, Any] | None:
        answer = page(wait_seconds=5)
        return answer if answer["results"] else None

    first = wait_for(arrived, timeout=90, what="the polled result")
    [result] = first["results"]
    assert result["job_id"] == job.json()["job_id"]
    assert result["status"] == "DONE"
    assert result["measurements"]["instances"] == 7
    stored = requests.get(result["result_url"], timeout=30).json()
    assert stored["result"]["job_id"] == result["job_id"]
    # And reading consumed nothing: the same request answers the same result, and only after
    # next_cursor is there nothing new
    assert [r["job_id"] for r in page()["results"]] == [result["job_id"]]
    assert page(after=first["next_cursor"])["results"] == []
    # And nothing on the results topic was subscribed for the client
    subscriptions = stack.client("sns").list_subscriptions_by_topic(
        TopicArn=stack.outputs["ResultsTopicArn"]
    )["Subscriptions"]
    assert not [s for s in subscriptions if client["client_id"] in s["Endpoint"]]


@pytest.mark.parametrize(
    ("path", "body", "status", "code_or_field"),
    [
        ("/process/processing_1", "{not json", 400, None),
        ("/process/processing_1", {"pacs": {"study_id": "a", "series_id": "b"}}, 400, "client_id"),
        ("/process/no_such_algorithm", None, 404, None),
        ("/process/processing_1", "traversal", 400, "pacs.study_id"),
        ("/process/processing_1", "huge", 413, None),
    ],
    ids=["malformed-json", "missing-field", "unknown-algorithm", "traversal", "too-large"],
)
def test_bad_requests_get_a_clear_4xx(
    rest, pacs, user, push_client, path, body, status, code_or_field
):
    # Given a client and a request that is wrong in one way
    client = push_client
    good = {"client_id": client["client_id"], "pacs": _instance(pacs, "CT_small.dcm")}
    if body is None:
        body = good
    elif body == "traversal":
        body = {**good, "pacs": {**good["pacs"], "study_id": "../../etc"}}
    elif body == "huge":
        body = {**good, "padding": "x" * 40_000}

    # When it is submitted
    data = body if isinstance(body, str) else json.dumps(body)
    response = rest(
        "POST", path, user=user, data=data, headers={"content-type": "application/json"}
    )

    # Then the API says what is wrong, with the field at fault where there is one
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"]
    if code_or_field:
        assert code_or_field in (error.get("field") or "")


@pytest.mark.parametrize(
    ("pacs_ref", "reason"),
    [
        ({"study_id": "no-such-study", "series_id": "s", "image_id": "i"}, "not found"),
        (
            {"study_id": "broken-samples", "series_id": "broken-series", "image_id": "not-dicom"},
            "not a dicom",
        ),
        (
            {
                "study_id": "broken-samples",
                "series_id": "broken-series",
                "image_id": "MR_truncated",
            },
            "truncated",
        ),
    ],
    ids=["unknown-study", "not-dicom", "truncated-dicom"],
)
def test_bad_pacs_data_ends_failed_with_a_reason(
    stack, rest, pacs, user, push_client, pacs_ref, reason
):
    # Given a job on data the PACS does not have, or cannot decode
    client = push_client

    # When it is submitted
    job = rest(
        "POST",
        "/process/processing_1",
        user=user,
        json={"client_id": client["client_id"], "pacs": pacs_ref},
    )
    assert job.status_code == 202, job.text

    # Then the job ends FAILED, saying why, and the PACS object is kept
    final = _final_job(rest, user, job.json()["job_id"])
    assert final["status"] == "FAILED"
    assert reason in final["reason"].lower(), final["reason"]
    if pacs_ref["study_id"] == "broken-samples":
        key = (
            f"studies/{pacs_ref['study_id']}/series/{pacs_ref['series_id']}/instances/"
            f"{pacs_ref['image_id']}.dcm"
        )
        assert stack.client("s3").head_object(Bucket=stack.outputs["PacsBucketName"], Key=key)


def test_push_to_a_closed_connection_removes_it_and_the_result_stays_available(
    stack, rest, pacs, user
):
    # Given a client whose only connection went away without a $disconnect (a stale record)
    client = _client(rest, user)
    table = stack.outputs["ConnectionsTableName"]
    dynamodb = stack.client("dynamodb")
    dynamodb.put_item(
        TableName=table,
        Item={
            "connection_id": {"S": "stale-connection-id="},
            "client_id": {"S": client["client_id"]},
            "owner": {"S": user.sub},
            "connected_at": {"S": "2026-01-01T00:00:00Z"},
            "ttl": {"N": str(int(time.time()) + 3600)},
        },
    )

    # When a result for it is pushed
    job = rest(
        "POST",
        "/process/processing_3",
        user=user,
        json={"client_id": client["client_id"], "pacs": _instance(pacs, "MR_small.dcm")},
    )
    final = _final_job(rest, user, job.json()["job_id"])

    # Then the push got GoneException and removed the connection, and GET /jobs has the result
    assert final["status"] == "DONE"
    wait_for(
        lambda: (
            "Item"
            not in dynamodb.get_item(
                TableName=table, Key={"connection_id": {"S": "stale-connection-id="}}
            )
        ),
        timeout=60,
        what="the stale connection's removal",
    )
    assert final["result"]["overlay_url"]


@pytest.mark.slow
def test_200_jobs_from_4_clients_each_done_once_and_delivered_to_its_client(
    stack, pacs, endpoints, user
):
    # Given four connected clients
    ct = _instance(pacs, "CT_small.dcm")

    # When they submit 200 jobs over the three algorithms
    report = asyncio.run(
        run_load(
            endpoints,
            auth=user.id_token,
            jobs=200,
            clients=4,
            pacs=ct,
            algorithms=["processing_1", "processing_2", "processing_3"],
            timeout=240,
        )
    )

    # Then every job is DONE exactly once and every client received exactly its own results
    assert report.missing() == []
    assert report.duplicates() == []
    assert report.misdelivered() == []
    assert {r[1]["status"] for pushes in report.pushed.values() for r in pushes} == {"DONE"}
    jobs = stack.client("dynamodb").scan(TableName=stack.outputs["JobsTableName"])["Items"]
    by_id = {item["job_id"]["S"]: item for item in jobs}
    assert {by_id[job]["status"]["S"] for job in report.submitted} == {"DONE"}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "job_latency_e2e.json").write_text(json.dumps(report.summary(), indent=2))
