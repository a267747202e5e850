"""ResultsProxyFunction against moto: a poll client's finished jobs from JobsTable's
``client-results-index`` after a cursor, written by the worker's own ``JobsTable.finish``.
Reading deletes nothing (the same cursor gives the same page); only the client's owner may
read (not even an admin), and a cursor that is not ours is a 400."""

from __future__ import annotations

import base64
import json
import threading
import time
import zlib
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest

from algorithm_worker.jobs_table import JobsTable
from pipeline_common.contracts.clients import PolledResults
from pipeline_common.contracts.jobs import JobMessage, JobResult
from pipeline_common.identity import Caller
from pipeline_common.result_feed import completed_seq, seq_assignment
from tests.support.api_aws import (
    SAMPLE_CLIENT_ID,
    SAMPLE_OUTPUT_BUCKET,
    FakeLambdaContext,
    body_of,
    create_table,
    load_event,
    put_client,
)
from tests.support.functions import load_function
from tests.support.tenancy import ALICE, BOB, CAROL_ADMIN, as_user, without_claims

POLL_CLIENT = SAMPLE_CLIENT_ID


@pytest.fixture
def cloud(mocked_aws: None) -> None:
    """moto for every AWS call of the test (the root ``mocked_aws``)."""


@pytest.fixture
def proxy(cloud, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("CLIENTS_TABLE", create_table("ClientsTable"))
    monkeypatch.setenv("JOBS_TABLE", create_table("JobsTable"))
    monkeypatch.setenv("OUTPUT_BUCKET", SAMPLE_OUTPUT_BUCKET)
    monkeypatch.setenv("WAIT_TIME_SECONDS", "1")
    # No settle window here: every completion counts as settled at once (the window has its
    # own tests below, against the logic with a clock of their own).
    monkeypatch.setenv("RESULTS_SETTLE_SECONDS", "0")
    put_poll_client(POLL_CLIENT)
    return load_function("results_proxy")


def put_poll_client(client_id: str, *, owner: str = ALICE.sub, ttl: int = 4102444800) -> None:
    put_client("ClientsTable", client_id, owner=owner, ttl=ttl)
    boto3.client("dynamodb").update_item(
        TableName="ClientsTable",
        Key={"client_id": {"S": client_id}},
        UpdateExpression="SET delivery = :poll",
        ExpressionAttributeValues={":poll": {"S": "poll"}},
    )


def sample_result(index: int, *, client_id: str = POLL_CLIENT, failed: bool = False) -> JobResult:
    records = load_event("result_push_batch")["Records"]
    body = json.loads(records[1 if failed else 0]["body"])
    body["job_id"] = f"job{index:05d}{'f' if failed else 'd'}{client_id[:8]}"
    body["client_id"] = client_id
    return JobResult.model_validate(body)


def finish(result: JobResult, *, owner: str = ALICE.sub, dynamodb: Any = None) -> None:
    """The job's life as the router and the worker write it: QUEUED, claimed, finished."""
    dynamodb = dynamodb or boto3.client("dynamodb")
    job = JobMessage(
        job_id=result.job_id,
        client_id=result.client_id,
        algo_id=result.algo_id,
        pacs=result.pacs,
        submitted_at=result.completed_at,
    )
    dynamodb.put_item(
        TableName="JobsTable",
        Item={
            "job_id": {"S": job.job_id},
            "status": {"S": "QUEUED"},
            "client_id": {"S": job.client_id},
            "algo_id": {"S": job.algo_id},
            "owner": {"S": owner},
            "request": {"S": job.model_dump_json()},
            "created_at": {"S": "2026-01-19T09:15:00.000000+00:00"},
            "ttl": {"N": "4102444800"},
        },
    )
    table = JobsTable(dynamodb, "JobsTable", ttl_days=30)
    assert table.claim(job, receive_count=1).claimed
    assert table.finish(result)


def invoke(fn: ModuleType, event: dict) -> dict:
    return fn.lambda_handler(event, FakeLambdaContext())


def poll_event(**query: str) -> dict[str, Any]:
    event = load_event("results_proxy_poll")
    event["queryStringParameters"].update(query)
    event["multiValueQueryStringParameters"] = {
        k: [v] for k, v in event["queryStringParameters"].items()
    }
    return event


def poll(fn: ModuleType, **query: str) -> PolledResults:
    response = invoke(fn, poll_event(**query))
    assert response["statusCode"] == 200, response
    return PolledResults.model_validate_json(response["body"])


def test_finished_jobs_come_back_oldest_first_with_links_and_nothing_is_consumed(proxy):
    # Given a DONE and then a FAILED job of the poll client (each finished by the worker)
    done, failed = sample_result(1), sample_result(2, failed=True)
    finish(done)
    finish(failed)

    # When the client polls from the start, and then again with the same (no) cursor
    first = poll(proxy)
    again = poll(proxy)

    # Then both come back in completion order, the DONE one with signed links, and repeating
    # the request returns the same results (a lost response loses nothing)
    assert [r.job_id for r in first.results] == [done.job_id, failed.job_id]
    assert first.results[0].overlay_url is not None
    assert first.results[1].overlay_url is None
    assert first.discarded == 0
    assert first.more is False
    assert [r.job_id for r in again.results] == [done.job_id, failed.job_id]
    # And after next_cursor there is nothing new, until another job finishes
    assert poll(proxy, after=first.next_cursor).results == []
    later = sample_result(3)
    finish(later)
    assert [r.job_id for r in poll(proxy, after=first.next_cursor).results] == [later.job_id]


def test_limit_pages_through_every_result_once_in_order(proxy):
    # Given five finished jobs
    results = [sample_result(index) for index in range(5)]
    for result in results:
        finish(result)

    # When the client reads two at a time, following next_cursor
    pages, cursor = [], ""
    for _ in range(4):
        page = poll(proxy, after=cursor, limit="2")
        pages.append(page)
        cursor = page.next_cursor

    # Then it gets 2, 2, 1 and then none: every result once, oldest first; more says when to
    # ask again at once
    assert [len(p.results) for p in pages] == [2, 2, 1, 0]
    assert [p.more for p in pages] == [True, True, False, False]
    assert [r.job_id for p in pages for r in p.results] == [r.job_id for r in results]
    # And a page asked again with its own cursor is the same page
    second = poll(proxy, after=pages[0].next_cursor, limit="2")
    assert [r.job_id for r in second.results] == [r.job_id for r in pages[1].results]


def test_only_the_clients_own_finished_jobs_are_returned(proxy):
    # Given a finished job of another client of Alice's, and a job of this client still running
    other_client = "0ther0000client0000id"
    put_poll_client(other_client)
    finish(sample_result(1, client_id=other_client))
    running = sample_result(2)
    boto3.client("dynamodb").put_item(
        TableName="JobsTable",
        Item={
            "job_id": {"S": running.job_id},
            "status": {"S": "RUNNING"},
            "client_id": {"S": POLL_CLIENT},
            "owner": {"S": ALICE.sub},
        },
    )

    # When this client polls / Then neither is returned
    assert poll(proxy).results == []


def test_a_stored_result_that_is_not_a_job_result_is_skipped_and_counted(proxy):
    # Given a final row whose result is broken, ahead of a good one
    broken = sample_result(1)
    finish(broken)
    boto3.client("dynamodb").update_item(
        TableName="JobsTable",
        Key={"job_id": {"S": broken.job_id}},
        UpdateExpression="SET #result = :garbage",
        ExpressionAttributeNames={"#result": "result"},
        ExpressionAttributeValues={":garbage": {"S": '{"kind": "job.result", "job_id": "trunc'}},
    )
    good = sample_result(2)
    finish(good)

    # When the client polls
    polled = poll(proxy)

    # Then the good one is returned, the broken one counted, and neither comes again
    assert [r.job_id for r in polled.results] == [good.job_id]
    assert polled.discarded == 1
    after = poll(proxy, after=polled.next_cursor)
    assert (after.results, after.discarded) == ([], 0)


def _cursor_of(document: Any) -> str:
    packed = zlib.compress(json.dumps(document).encode())
    return base64.urlsafe_b64encode(packed).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "after",
    [
        "not a cursor!",
        "AAAA",  # base64, not zlib
        base64.urlsafe_b64encode(b"x" * 40).decode().rstrip("="),
        _cursor_of(["v", "h", "r"]),
        _cursor_of({"v": 2, "h": "", "r": []}),
        _cursor_of({"v": 1, "h": "yesterday", "r": []}),
        _cursor_of({"v": 1, "h": "", "r": ["2026-01-19T09:15:00.000000Z"]}),
        _cursor_of({"v": 1, "h": "", "r": [], "extra": 1}),
        "A" * 5000,
        _cursor_of({"v": 1, "h": "", "r": ["x" * 20_000]}),
    ],
    ids=[
        "not-base64",
        "not-zlib",
        "random-bytes",
        "not-an-object",
        "other-version",
        "bad-horizon",
        "recent-not-a-seq",
        "extra-field",
        "too-long",
        "inflates-too-far",
    ],
)
def test_a_malformed_cursor_is_400_naming_after(proxy, after):
    finish(sample_result(1))

    response = invoke(proxy, poll_event(after=after))

    assert response["statusCode"] == 400, response
    assert body_of(response)["error"]["field"] == "after"


@pytest.mark.parametrize("limit", ["0", "101", "ten"])
def test_a_bad_limit_is_400_naming_it(proxy, limit):
    response = invoke(proxy, poll_event(limit=limit))

    assert response["statusCode"] == 400
    assert body_of(response)["error"]["field"] == "limit"


def test_missing_client_id_is_400(proxy):
    response = invoke(proxy, load_event("results_proxy_missing_client"))

    assert response["statusCode"] == 400
    assert body_of(response)["error"]["field"] == "client_id"


def test_a_push_client_is_told_to_use_the_websocket(proxy):
    put_client("ClientsTable", "push0000client0000id", owner=ALICE.sub)

    response = invoke(proxy, poll_event(client_id="push0000client0000id"))

    assert response["statusCode"] == 400
    assert body_of(response)["error"]["code"] == "not_a_polling_client"


def test_a_bad_wait_is_400_naming_it(proxy):
    response = invoke(proxy, poll_event(wait_seconds="forever"))

    assert response["statusCode"] == 400
    assert body_of(response)["error"]["field"] == "wait_seconds"


def refused(proxy: ModuleType, event: dict) -> dict:
    response = invoke(proxy, event)
    assert response["statusCode"] == 404, response
    return body_of(response)


def missing_client_answer(proxy: ModuleType) -> dict:
    return refused(proxy, poll_event(client_id="0000000000000000deadbeef"))


@pytest.mark.parametrize("user", [BOB, CAROL_ADMIN], ids=["another-user", "admin"])
def test_nobody_but_the_owner_reads_a_clients_results(proxy, user):
    # Given Alice's finished job
    finish(sample_result(1))

    # When another user, or an admin, polls her client (with or without a cursor)
    answer = refused(proxy, as_user(poll_event(), user))
    with_cursor = refused(proxy, as_user(poll_event(after=poll(proxy).next_cursor), user))

    # Then it is the same 404 as for a client that does not exist
    assert answer == with_cursor == missing_client_answer(proxy)


def test_an_expired_client_is_the_same_404(proxy):
    put_poll_client("a11ce000expired0000", ttl=1_700_000_000)

    assert refused(proxy, poll_event(client_id="a11ce000expired0000")) == missing_client_answer(
        proxy
    )


def test_a_request_without_verified_claims_is_401(proxy):
    finish(sample_result(1))

    response = invoke(proxy, without_claims(poll_event()))

    assert response["statusCode"] == 401


# --- The settle window: a completion that becomes visible late is still delivered, once -------

SETTLE = timedelta(seconds=10)
T0 = datetime(2026, 12, 6, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def logic(proxy) -> ModuleType:
    return load_function("results_proxy", "results_proxy_logic")


def write_final(result: JobResult, at: datetime) -> None:
    """A final row stamped ``at`` (as if its writer's UpdateItem started then)."""
    clause, values = seq_assignment(result.job_id, at)
    boto3.client("dynamodb").update_item(
        TableName="JobsTable",
        Key={"job_id": {"S": result.job_id}},
        UpdateExpression=f"SET #status = :s, #result = :r, client_id = :c, #owner = :o, {clause}",
        ExpressionAttributeNames={"#status": "status", "#result": "result", "#owner": "owner"},
        ExpressionAttributeValues={
            ":s": {"S": result.status.value},
            ":r": {"S": result.model_dump_json()},
            ":c": {"S": result.client_id},
            ":o": {"S": ALICE.sub},
            **values,
        },
    )


def read_at(logic: ModuleType, now: datetime, after: str = "", limit: int = 10) -> PolledResults:
    settings = logic.ResultsProxySettings(results_settle_seconds=SETTLE.total_seconds())
    parameters = logic.PollParameters(client_id=POLL_CLIENT, after=after, limit=limit)
    caller = Caller(owner_id=ALICE.sub, username="alice", groups=frozenset())
    result: PolledResults = logic.poll_results(
        parameters=parameters, caller=caller, now=now, settings=settings
    )
    return result


def test_a_completion_that_lands_after_a_newer_one_was_read_is_still_delivered(logic):
    # Given job B, stamped at T0+2 s and visible, read by the client at T0+3 s
    late, early_visible = sample_result(1), sample_result(2)
    write_final(early_visible, T0 + timedelta(seconds=2))
    first = read_at(logic, T0 + timedelta(seconds=3))
    assert [r.job_id for r in first.results] == [early_visible.job_id]

    # When job A, stamped earlier (T0+1 s) but whose write was in flight, lands afterwards
    write_final(late, T0 + timedelta(seconds=1))
    second = read_at(logic, T0 + timedelta(seconds=4), after=first.next_cursor)

    # Then the next read returns A, and B does not come again
    assert [r.job_id for r in second.results] == [late.job_id]
    third = read_at(logic, T0 + timedelta(seconds=30), after=second.next_cursor)
    assert third.results == []


def test_the_cursor_forgets_recent_results_once_they_settle(logic):
    # Given a result read while still inside the settle window
    result = sample_result(1)
    write_final(result, T0)
    first = read_at(logic, T0 + timedelta(seconds=1))
    recent_cursor = logic.Cursor.decode(first.next_cursor)
    assert recent_cursor.recent == (completed_seq(result.job_id, T0),)

    # When the client reads again after the window
    later = read_at(logic, T0 + SETTLE + timedelta(seconds=1), after=first.next_cursor)

    # Then nothing is repeated, and the cursor holds only its horizon
    assert later.results == []
    settled = logic.Cursor.decode(later.next_cursor)
    assert settled.recent == ()
    assert settled.horizon > completed_seq(result.job_id, T0)


def test_at_most_max_recent_unsettled_results_are_remembered_the_rest_wait_to_settle(logic):
    # Given more fresh completions than a cursor remembers
    cap = logic.MAX_RECENT
    results = [sample_result(index) for index in range(cap + 5)]
    for index, result in enumerate(results):
        write_final(result, T0 + timedelta(microseconds=index))

    # When the client reads them at once, 100 at a time, and again after the settle window
    fresh = read_at(logic, T0 + timedelta(seconds=1), limit=100)
    settled = read_at(logic, T0 + SETTLE + timedelta(seconds=1), after=fresh.next_cursor)

    # Then it gets the first MAX_RECENT at once and the rest once settled, each exactly once
    assert len(fresh.results) == cap
    got = [r.job_id for r in fresh.results] + [r.job_id for r in settled.results]
    assert got == [r.job_id for r in results]
    assert len(fresh.next_cursor) < 4096


def test_wait_seconds_answers_when_a_result_arrives_and_empty_after_the_wait(
    proxy, monkeypatch: pytest.MonkeyPatch
):
    # Given the function allowing waits of up to 15 s, reading the index every 0.1 s (bounds
    # generous: other test runs share the machine)
    monkeypatch.setenv("WAIT_TIME_SECONDS", "15")
    monkeypatch.setenv("REQUERY_SECONDS", "0.1")
    # With the deployed settle window: without one, a completion stamped just before a requery
    # but written just after it would be passed by the horizon (the race the window is for).
    monkeypatch.setenv("RESULTS_SETTLE_SECONDS", "10")
    waiting = load_function("results_proxy")

    # When a client waits with nothing there, and then waits while a job finishes meanwhile
    started = time.monotonic()
    empty = poll(waiting, wait_seconds="1")
    waited = time.monotonic() - started
    result = sample_result(1)
    # (the client is made here: boto3's default session is not safe to create clients from
    # two threads at once)
    timer = threading.Timer(
        0.5, finish, args=(result,), kwargs={"dynamodb": boto3.client("dynamodb")}
    )
    timer.start()
    started = time.monotonic()
    arrived = poll(waiting, after=empty.next_cursor, wait_seconds="15")
    answered_in = time.monotonic() - started
    timer.join()

    # Then the first answers empty after about its wait, the second with the result well before
    # its wait is over
    assert empty.results == []
    assert 0.8 <= waited < 6
    assert [r.job_id for r in arrived.results] == [result.job_id]
    assert answered_in < 12


def test_a_job_failed_by_the_dead_letter_consumer_or_the_sweeper_is_in_the_feed(proxy):
    # Given a job that no worker finished, failed through pipeline_common.job_endings (what the
    # request dead-letter consumer and the sweeper call)
    from pipeline_common.job_endings import JobEnder

    topic_arn = boto3.client("sns").create_topic(
        Name="pipeline-results.fifo", Attributes={"FifoTopic": "true"}
    )["TopicArn"]
    result = sample_result(1)
    job = JobMessage(
        job_id=result.job_id,
        client_id=POLL_CLIENT,
        algo_id=result.algo_id,
        pacs=result.pacs,
        submitted_at=result.completed_at,
    )
    assert JobEnder("JobsTable", topic_arn).fail(job, "the worker was lost", ended_by="sweeper")

    # When the client polls / Then the FAILED result is there, with its reason
    [failed] = poll(proxy).results
    assert (failed.job_id, failed.status, failed.reason) == (
        result.job_id,
        "FAILED",
        "the worker was lost",
    )
