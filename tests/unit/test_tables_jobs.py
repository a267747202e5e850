"""``pipeline_common.tables.jobs`` against JobsTable as template.yaml declares it (moto): each
write's row read back whole, and each conditional write refused where its condition fails."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from pipeline_common.contracts.common import S3Location
from pipeline_common.contracts.jobs import JobMessage, JobOutputs, JobResult, JobStatus, PacsRef
from pipeline_common.job_endings import failed_result
from pipeline_common.result_feed import is_seq
from pipeline_common.tables.jobs import (
    JobRow,
    claim_job,
    client_results,
    count_jobs_created_since,
    fail_job,
    finish_job,
    forget_unqueued_job,
    get_job,
    iso_utc,
    mark_job_published,
    put_new_job,
    scan_jobs,
)
from tests.support.tables import create_table

TABLE = "JobsTable"
NOW = datetime(2026, 1, 19, 9, 15, 32, 114000, tzinfo=UTC)
CLIENT = "c" * 32
OWNER = "alice-sub"
TTL_SECONDS = 7 * 86_400


@pytest.fixture(autouse=True)
def jobs_table(mocked_aws: None) -> None:
    create_table(TABLE)
    return


def message(job_id: str) -> JobMessage:
    return JobMessage(
        job_id=job_id,
        client_id=CLIENT,
        algo_id="processing_1",
        pacs=PacsRef(study_id="1.2.3", series_id="1.2.3.4", image_id="1.2.3.4.5"),
        submitted_at=NOW,
    )


def queued_row(job_id: str, *, created_at: datetime = NOW) -> JobRow:
    """A row as the router writes it."""
    return JobRow(
        job_id=job_id,
        status=JobStatus.QUEUED,
        owner=OWNER,
        client_id=CLIENT,
        algo_id="processing_1",
        request=message(job_id).model_dump_json(exclude_none=True),
        request_hash="d" * 64,
        created_at=iso_utc(created_at),
        updated_at=iso_utc(created_at),
        ttl=int((created_at + timedelta(days=7)).timestamp()),
    )


def done(job_id: str) -> JobResult:
    return JobResult(
        job_id=job_id,
        client_id=CLIENT,
        algo_id="processing_1",
        status=JobStatus.DONE,
        pacs=message(job_id).pacs,
        outputs=JobOutputs(
            overlay=S3Location(bucket="output-bucket", key=f"{job_id}/overlay.png"),
            result=S3Location(bucket="output-bucket", key=f"{job_id}/result.json"),
        ),
        measurements={"component_count": 3},
        timings_ms={"run": 12.5},
        completed_at=NOW,
    )


def test_a_new_job_row_reads_back_as_written():
    # Given a row as the router builds it
    row = queued_row("job-00000001")

    # When it is written and read back
    written = put_new_job(TABLE, row)
    stored = get_job(TABLE, row.job_id)

    # Then it is the same record, and its request is the queued message
    assert written
    assert stored == row
    assert stored.job() == message(row.job_id)


def test_a_new_job_is_refused_when_its_id_is_taken():
    # Given a job already written
    first = queued_row("job-00000002")
    put_new_job(TABLE, first)

    # When another row with the same id is written
    second = put_new_job(TABLE, queued_row("job-00000002", created_at=NOW + timedelta(seconds=5)))

    # Then it is refused and the first stays
    assert second is False
    assert get_job(TABLE, first.job_id) == first


def test_an_unqueued_job_is_forgotten_only_with_its_own_request_hash():
    # Given a QUEUED job
    row = queued_row("job-00000003")
    put_new_job(TABLE, row)

    # When another request's hash asks to forget it, then its own
    with pytest.raises(ClientError) as refused:
        forget_unqueued_job(TABLE, job_id=row.job_id, request_hash="e" * 64)
    kept = get_job(TABLE, row.job_id)
    forget_unqueued_job(TABLE, job_id=row.job_id, request_hash=row.request_hash)

    # Then the first is refused and the second removes it
    assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert kept == row
    assert get_job(TABLE, row.job_id) is None


def test_a_claim_without_a_row_writes_a_complete_running_row():
    # Given a job enqueued without the router (no row)
    job = message("job-00000004")

    # When a worker claims it
    claimed = claim_job(TABLE, job, receive_count=2, ttl_seconds=TTL_SECONDS)
    row = get_job(TABLE, job.job_id)

    # Then the row is RUNNING with the job's client, algorithm, request and a TTL
    assert claimed
    assert row is not None
    assert (row.status, row.client_id, row.algo_id, row.receive_count) == (
        JobStatus.RUNNING,
        CLIENT,
        "processing_1",
        2,
    )
    assert row.job() == job
    assert row.owner is None
    assert abs(row.ttl - (time.time() + TTL_SECONDS)) < 60
    assert row.heartbeat_at is not None
    assert row.started_at == row.created_at


def test_a_claim_keeps_the_routers_fields_and_is_refused_once_the_job_ended():
    # Given a router's row, claimed and finished
    row = queued_row("job-00000005")
    put_new_job(TABLE, row)
    assert claim_job(TABLE, message(row.job_id), receive_count=1, ttl_seconds=TTL_SECONDS)
    claimed = get_job(TABLE, row.job_id)
    assert finish_job(TABLE, done(row.job_id))

    # When a redelivery claims it again
    again = claim_job(TABLE, message(row.job_id), receive_count=2, ttl_seconds=TTL_SECONDS)

    # Then the claim kept what the router wrote, and the second claim is refused
    assert claimed is not None
    assert (claimed.created_at, claimed.ttl, claimed.owner, claimed.request) == (
        row.created_at,
        row.ttl,
        row.owner,
        row.request,
    )
    assert again is False
    assert get_job(TABLE, row.job_id).status == JobStatus.DONE


def test_a_finished_job_stores_its_result_for_the_feed_until_published():
    # Given a RUNNING job
    row = queued_row("job-00000006")
    put_new_job(TABLE, row)
    claim_job(TABLE, message(row.job_id), receive_count=1, ttl_seconds=TTL_SECONDS)

    # When it is finished, then published
    finished = finish_job(TABLE, done(row.job_id))
    stored = get_job(TABLE, row.job_id)
    mark_job_published(TABLE, row.job_id)
    published = get_job(TABLE, row.job_id)

    # Then the row holds the result's JSON, a feed key and publish_pending until published
    assert finished
    assert stored is not None
    assert published is not None
    assert stored.result == done(row.job_id).model_dump_json()
    assert stored.final_result() == done(row.job_id)
    assert (stored.status, stored.ended_by, stored.publish_pending) == (
        JobStatus.DONE,
        "worker",
        True,
    )
    assert is_seq(stored.completed_seq or "")
    assert stored.reason is None
    assert published.publish_pending is False
    assert published.result == stored.result


def test_finishing_is_refused_unless_the_job_is_running():
    # Given a QUEUED job (never claimed)
    row = queued_row("job-00000007")
    put_new_job(TABLE, row)

    # When it is finished
    finished = finish_job(TABLE, done(row.job_id))

    # Then nothing changed
    assert finished is False
    assert get_job(TABLE, row.job_id) == row


def test_publishing_never_recreates_a_removed_row():
    # Given no row for a job / When it is marked published
    mark_job_published(TABLE, "job-00000008")

    # Then there is still none
    assert get_job(TABLE, "job-00000008") is None


def test_failing_a_job_without_a_row_writes_a_complete_failed_row():
    # Given a job enqueued without the router
    job = message("job-00000009")
    result = failed_result(job, "no worker could complete the job")

    # When it is failed
    outcome = fail_job(TABLE, job, result, ended_by="dead-letter", ttl_seconds=TTL_SECONDS)
    row = get_job(TABLE, job.job_id)

    # Then the row is FAILED with the reason, the result and the job's fields
    assert outcome.failed
    assert outcome.stored is None
    assert row is not None
    assert (row.status, row.reason, row.ended_by, row.publish_pending) == (
        JobStatus.FAILED,
        "no worker could complete the job",
        "dead-letter",
        True,
    )
    assert row.final_result() == result
    assert row.job() == job
    assert is_seq(row.completed_seq or "")


def test_failing_an_ended_job_is_refused_and_returns_the_stored_row():
    # Given a job a worker finished (its publish not confirmed)
    row = queued_row("job-00000010")
    put_new_job(TABLE, row)
    claim_job(TABLE, message(row.job_id), receive_count=1, ttl_seconds=TTL_SECONDS)
    finish_job(TABLE, done(row.job_id))

    # When the sweeper tries to fail it
    job = message(row.job_id)
    outcome = fail_job(
        TABLE, job, failed_result(job, "lost"), ended_by="sweeper", ttl_seconds=TTL_SECONDS
    )

    # Then nothing changed and the refusal carries the DONE row with its pending result
    assert outcome.failed is False
    assert outcome.stored == get_job(TABLE, row.job_id)
    assert outcome.stored.status == JobStatus.DONE
    assert outcome.stored.publish_pending
    assert outcome.stored.final_result() == done(row.job_id)


def test_a_users_recent_jobs_are_counted_on_the_owner_index():
    # Given three of Alice's jobs, one created two minutes earlier
    put_new_job(TABLE, queued_row("job-00000011", created_at=NOW - timedelta(minutes=2)))
    put_new_job(TABLE, queued_row("job-00000012"))
    put_new_job(TABLE, queued_row("job-00000013", created_at=NOW + timedelta(seconds=1)))

    # When her jobs of the last minute are counted, with and without a limit
    since = NOW - timedelta(seconds=60)
    counted = count_jobs_created_since(TABLE, owner=OWNER, since=since, limit=10)
    capped = count_jobs_created_since(TABLE, owner=OWNER, since=since, limit=1)
    others = count_jobs_created_since(TABLE, owner="bob-sub", since=since, limit=10)

    # Then only the recent ones count, up to the limit, and nobody else's
    assert (counted, capped, others) == (2, 1, 0)


def test_a_clients_results_are_read_in_completion_order_after_a_cursor():
    # Given three finished jobs of the client, finished in order, and one still running
    ids = ["job-00000021", "job-00000022", "job-00000023", "job-00000024"]
    for job_id in ids:
        put_new_job(TABLE, queued_row(job_id))
        claim_job(TABLE, message(job_id), receive_count=1, ttl_seconds=TTL_SECONDS)
    for job_id in ids[:3]:
        finish_job(TABLE, done(job_id))
        time.sleep(0.002)

    # When the feed is read from the start, then after the first completion
    everything = list(client_results(TABLE, CLIENT, after="", page_size=1))
    after_first = list(
        client_results(TABLE, CLIENT, after=everything[0].completed_seq or "", page_size=10)
    )

    # Then the finished jobs come oldest first with their results, the running one never
    assert [row.job_id for row in everything] == ids[:3]
    assert [row.job_id for row in after_first] == ids[1:3]
    assert all(row.final_result() == done(row.job_id) for row in everything)
    assert {row.owner for row in everything} == {OWNER}


def test_a_scan_yields_the_matching_rows_page_by_page():
    # Given a QUEUED and a RUNNING job
    put_new_job(TABLE, queued_row("job-00000031"))
    put_new_job(TABLE, queued_row("job-00000032"))
    claim_job(TABLE, message("job-00000032"), receive_count=1, ttl_seconds=TTL_SECONDS)

    # When the RUNNING ones are scanned for
    pages = list(
        scan_jobs(
            TABLE,
            filter_expression="#status = :running",
            projection="job_id, #status, receive_count",
            names={"#status": "status"},
            values={":running": {"S": JobStatus.RUNNING.value}},
        )
    )

    # Then only that job comes back, with the projected attributes alone
    rows = [row for page in pages for row in page]
    assert rows == [JobRow(job_id="job-00000032", status=JobStatus.RUNNING, receive_count=1)]


def test_every_attribute_of_a_row_survives_its_item():
    # Given a row with every attribute set (as a failed, unpublished job has them)
    row = JobRow(
        job_id="job-00000041",
        status=JobStatus.FAILED,
        owner=OWNER,
        client_id=CLIENT,
        algo_id="processing_2",
        request="{}",
        request_hash="f" * 64,
        created_at="2026-01-19T09:15:32.114000+00:00",
        updated_at="2026-01-19T09:16:00.000000+00:00",
        started_at="2026-01-19T09:15:40.000000+00:00",
        completed_at="2026-01-19T09:16:00.000000+00:00",
        reason="lost",
        result="{}",
        ended_by="sweeper",
        publish_pending=True,
        completed_seq="2026-01-19T09:16:00.000001Z#job-00000041",
        receive_count=3,
        heartbeat_at=1768813000,
        last_error="TimeoutError",
        ttl=1769417732,
    )

    # When it is written as an item and read back through DynamoDB
    boto3.client("dynamodb").put_item(TableName=TABLE, Item=row.to_item())

    # Then nothing is lost or changed
    assert get_job(TABLE, row.job_id, consistent=False) == row
