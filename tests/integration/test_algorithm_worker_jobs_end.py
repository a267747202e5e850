"""Every algorithm job ends (issue 12, item 1): bad data is an input error, the last allowed
receive fails the job, the request dead-letter queues' consumer fails what reaches it, the
sweeper fails jobs whose worker was lost, and a series over the memory budget is refused.

Real components: moto in server mode with the template's queues (redrive after 3 receives),
JobsTable, the FIFO topic -> ResultsQueue.fifo fan-out; the real PACS API over HTTP; real
pydicom files, modified with pydicom; the functions' real handlers (``functions/job_dead_letters``
and ``functions/job_sweeper``) invoked with the records Lambda would hand them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from io import BytesIO
from types import ModuleType
from typing import Any

import boto3
import numpy as np
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.tag import Tag
from pydicom.uid import generate_uid

from localcloud.event_sources.sqs import sqs_record
from pipeline_common.contracts.jobs import JobMessage
from pipeline_common.job_endings import failed_result
from tests.support.api_aws import FakeLambdaContext, load_event
from tests.support.dicom_samples import (
    InstanceRef,
    JobStack,
    drain,
    free_port,
    job_item,
    job_message,
    moto_server,
    pacs_api_server,
    put_pacs_instance,
    sample_path,
    sample_ref,
    seeded_job_stack,
    send_job,
)
from tests.support.functions import load_function

# isort: split
from algorithm_worker.algorithms import REGISTRY, Algorithm
from algorithm_worker.heartbeat import VisibilityHeartbeat
from algorithm_worker.jobs_table import JobsTable
from algorithm_worker.settings import WorkerSettings
from algorithm_worker.worker import Worker

ALGO = "processing_1"


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def stack(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[JobStack]:
    yield from seeded_job_stack(moto_endpoint, monkeypatch, ALGO)


@pytest.fixture
def pacs_url(stack: JobStack) -> Iterator[str]:
    with pacs_api_server(stack.pacs_bucket) as url:
        yield url


def make_worker(
    stack: JobStack, pacs_url: str, algorithm: Algorithm | None = None, **env: str
) -> Worker:
    values = {k.lower(): v for k, v in stack.worker_env(pacs_url, ALGO, **env).items()}
    return Worker(WorkerSettings(**values), algorithm or REGISTRY[ALGO])


def table(stack: JobStack) -> JobsTable:
    return JobsTable(boto3.client("dynamodb"), stack.jobs_table, ttl_days=7)


def published(stack: JobStack) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in drain(stack.results_queue_url)]


def queued(queue_url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in attributes.values())


def crafted(name: str, *, raw: dict[str, tuple[str, bytes]] | None = None) -> bytes:
    """A bundled pydicom file as a new instance (new UIDs) with elements replaced by raw bytes
    (``{keyword: (VR, value)}``): what a modality with a bug would send."""
    ds = dcmread(sample_path(name))
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.SeriesInstanceUID = generate_uid()
    for keyword, (vr, value) in (raw or {}).items():
        tag = Tag(keyword)
        ds._dict[tag] = RawDataElement(tag, vr, len(value), value, 0, False, True)
    out = BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def large_series(bucket: str, *, instances: int, size: int) -> tuple[str, str]:
    """``instances`` CT slices of ``size`` x ``size`` (CT_small's pixels scaled up), stored as
    one new series in CT_small's study."""
    series_uid = generate_uid()
    for number in range(1, instances + 1):
        ds = dcmread(sample_path("CT_small.dcm"))
        factor = size // int(ds.Rows)
        pixels = np.kron(ds.pixel_array, np.ones((factor, factor), dtype=ds.pixel_array.dtype))
        ds.Rows, ds.Columns = pixels.shape
        ds.PixelData = pixels.tobytes()
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SeriesInstanceUID = series_uid
        ds.InstanceNumber = number
        out = BytesIO()
        ds.save_as(out, enforce_file_format=True)
        put_pacs_instance(bucket, out.getvalue())
    return str(ds.StudyInstanceUID), series_uid


# -- bad data is an input error ------------------------------------------------------------------


def test_a_dicom_whose_rescale_slope_is_not_a_number_ends_failed_with_its_reason(
    stack: JobStack, pacs_url: str
) -> None:
    # Given: CT_small with RescaleSlope = 'zz' (it made the modality LUT raise a UFuncTypeError
    # outside the decode's error handling: retried 3 times, then the DLQ with the job RUNNING)
    ref = put_pacs_instance(
        stack.pacs_bucket, crafted("CT_small.dcm", raw={"RescaleSlope": ("DS", b"zz")})
    )
    body = job_message(ALGO, ref)
    send_job(stack, body)
    # When
    outcome = make_worker(stack, pacs_url).poll_once()
    # Then: FAILED with the reason, published once, the message consumed, the file kept
    reason = f"instance {ref.instance_id} has an invalid RescaleSlope ('zz'): not a number"
    assert outcome is not None
    assert outcome.action == "failed"
    item = job_item(stack, body["job_id"])
    assert (item["status"], item["reason"]) == ("FAILED", reason)
    assert [(p["status"], p["reason"]) for p in published(stack)] == [("FAILED", reason)]
    assert queued(stack.request_queue_url) == 0
    assert queued(stack.request_dlq_url) == 0
    assert (
        boto3.client("s3").list_objects_v2(Bucket=stack.pacs_bucket, Prefix="studies/")["KeyCount"]
        > 0
    )


def test_an_algorithm_that_fails_on_the_data_fails_the_job_instead_of_retrying_it(
    stack: JobStack, pacs_url: str
) -> None:
    # Given: an algorithm that raises on this image (as a bug on unusual data would)
    def segment(display: np.ndarray, _slice: Any) -> np.ndarray:
        raise ValueError(f"cannot threshold a {display.shape[0]}-row image")

    broken = Algorithm(ALGO, "raises", "0", segment)
    body = job_message(ALGO, sample_ref("CT_small.dcm"))
    send_job(stack, body)
    # When
    outcome = make_worker(stack, pacs_url, broken).poll_once()
    # Then
    reason = "processing_1 failed on this input: ValueError: cannot threshold a 128-row image"
    assert outcome is not None
    assert outcome.action == "failed"
    assert job_item(stack, body["job_id"])["reason"] == reason
    assert [p["reason"] for p in published(stack)] == [reason]
    assert queued(stack.request_queue_url) == 0


# -- the last allowed receive --------------------------------------------------------------------


def test_a_transient_failure_before_the_last_receive_is_retried_and_noted(
    stack: JobStack,
) -> None:
    # Given: a PACS that does not answer, and a first receive
    body = job_message(ALGO, sample_ref("CT_small.dcm"))
    send_job(stack, body)
    # When
    outcome = make_worker(stack, f"http://127.0.0.1:{free_port()}").poll_once()
    # Then: retried (not FAILED, nothing published), the error's type noted on the job
    assert outcome is not None
    assert outcome.action == "retry"
    item = job_item(stack, body["job_id"])
    assert (item["status"], item["last_error"]) == ("RUNNING", "PacsUnavailable")
    assert published(stack) == []
    assert queued(stack.request_queue_url) == 1


def test_the_last_allowed_receive_fails_the_job_and_publishes_it(stack: JobStack) -> None:
    # Given: a job whose request was received twice already (two attempts that never ended)
    body = job_message(ALGO, sample_ref("CT_small.dcm"))
    send_job(stack, body)
    sqs = boto3.client("sqs")
    for _ in range(2):
        sqs.receive_message(QueueUrl=stack.request_queue_url, VisibilityTimeout=0)
    worker = make_worker(stack, f"http://127.0.0.1:{free_port()}")
    assert worker.settings.max_receive_count == 3  # the template's queue redrive
    # When: the third (last allowed) attempt fails too
    outcome = worker.poll_once()
    # Then: FAILED with the reason and published, instead of a RUNNING job in the DLQ
    reason = "the job could not be completed in 3 attempts (last error: PacsUnavailable)"
    assert outcome is not None
    assert (outcome.action, outcome.detail) == ("failed", reason)
    item = job_item(stack, body["job_id"])
    assert (item["status"], item["reason"], item["ended_by"]) == ("FAILED", reason, "worker")
    assert [(p["status"], p["reason"]) for p in published(stack)] == [("FAILED", reason)]
    assert queued(stack.request_queue_url) == 0
    assert queued(stack.request_dlq_url) == 0
    # ...and the request is kept in its row
    assert JobMessage.model_validate_json(item["request"]).job_id == body["job_id"]


# -- the request dead-letter queue's consumer ----------------------------------------------------


@pytest.fixture
def dead_letters(stack: JobStack, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("JOBS_TABLE", stack.jobs_table)
    monkeypatch.setenv("RESULTS_TOPIC_ARN", stack.results_topic_arn)
    monkeypatch.setenv("DEAD_LETTER_BUCKET", stack.output_bucket)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "job-dead-letters")
    return load_function("job_dead_letters")


def dead_letter(stack: JobStack, body: dict[str, Any] | str) -> list[dict[str, Any]]:
    """Send ``body`` and let it be received (and never deleted) until the queue's redrive moves
    it to the DLQ, as when the worker is killed during every attempt; the DLQ's messages as
    Lambda's SQS records."""
    sqs = boto3.client("sqs")
    text = body if isinstance(body, str) else json.dumps(body)
    job_id = body["job_id"] if isinstance(body, dict) else "poison-0001"
    sqs.send_message(
        QueueUrl=stack.request_queue_url,
        MessageBody=text,
        MessageGroupId="client-0001",
        MessageDeduplicationId=job_id,
    )
    for _ in range(4):  # 3 receives, and the 4th moves it to the DLQ
        sqs.receive_message(QueueUrl=stack.request_queue_url, VisibilityTimeout=0)
    dlq_arn = sqs.get_queue_attributes(QueueUrl=stack.request_dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    messages = sqs.receive_message(
        QueueUrl=stack.request_dlq_url,
        MaxNumberOfMessages=10,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    return [sqs_record(m, dlq_arn, "us-east-1") for m in messages]


def invoke(function: ModuleType, event: dict[str, Any]) -> Any:
    return function.lambda_handler(event, FakeLambdaContext())


def test_a_running_job_that_reaches_the_dlq_is_failed_published_and_its_request_kept(
    stack: JobStack, dead_letters: ModuleType
) -> None:
    # Given: a job claimed by a worker that was killed during each of its 3 attempts
    body = job_message(ALGO, sample_ref("CT_small.dcm"))
    claim = table(stack).claim(JobMessage.model_validate(body), receive_count=3)
    assert claim.claimed
    records = dead_letter(stack, body)
    assert len(records) == 1
    # When
    response = invoke(dead_letters, {"Records": records})
    # Then: FAILED with the reason, published once
    reason = (
        "no worker could complete the job after 3 attempt(s) (its worker stopped during each "
        "attempt, for example out of memory); its request was dead-lettered"
    )
    assert response == {"batchItemFailures": []}
    item = job_item(stack, body["job_id"])
    assert (item["status"], item["reason"], item["ended_by"]) == ("FAILED", reason, "dead-letter")
    assert "publish_pending" not in item
    assert [(p["job_id"], p["status"], p["reason"]) for p in published(stack)] == [
        (body["job_id"], "FAILED", reason)
    ]
    # ...and the request is kept in S3, under the DLQ's name and the message id
    key = f"dead-letters/processing_1-dlq.fifo/{records[0]['messageId']}.json"
    kept = json.loads(
        boto3.client("s3").get_object(Bucket=stack.output_bucket, Key=key)["Body"].read()
    )
    assert json.loads(kept["body"]) == body
    assert kept["queue_arn"].endswith(":processing_1-dlq.fifo")

    # When: the same record comes again (a retried batch)
    again = invoke(dead_letters, {"Records": records})
    # Then: nothing changes and nothing is published again
    assert again == {"batchItemFailures": []}
    assert job_item(stack, body["job_id"]) == item
    assert published(stack) == []


def test_a_job_that_ended_is_left_alone_by_the_dlq_consumer(
    stack: JobStack, pacs_url: str, dead_letters: ModuleType
) -> None:
    # Given: a job a worker completed, whose request later reached the DLQ (a replayed send)
    body = job_message(ALGO, sample_ref("CT_small.dcm"))
    send_job(stack, body)
    make_worker(stack, pacs_url).poll_once()
    done = job_item(stack, body["job_id"])
    assert done["status"] == "DONE"
    drain(stack.results_queue_url)
    records = dead_letter(stack, body)
    # When
    response = invoke(dead_letters, {"Records": records})
    # Then: the row is untouched, nothing is published, the request is still kept
    assert response == {"batchItemFailures": []}
    assert job_item(stack, body["job_id"]) == done
    assert published(stack) == []
    listing = boto3.client("s3").list_objects_v2(Bucket=stack.output_bucket, Prefix="dead-letters/")
    assert listing["KeyCount"] == 1


def test_a_dead_letter_that_is_not_a_job_is_only_kept(
    stack: JobStack, dead_letters: ModuleType
) -> None:
    # Given
    records = dead_letter(stack, '{"hello": "world"}')
    # When
    response = invoke(dead_letters, {"Records": records})
    # Then
    assert response == {"batchItemFailures": []}
    assert published(stack) == []
    listing = boto3.client("s3").list_objects_v2(Bucket=stack.output_bucket, Prefix="dead-letters/")
    assert listing["KeyCount"] == 1


def test_a_failed_job_whose_publish_was_lost_is_published_on_the_retry(
    stack: JobStack, dead_letters: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: a dead-lettered job whose first handling failed between the update and the publish
    body = job_message(ALGO, sample_ref("CT_small.dcm"))
    table(stack).claim(JobMessage.model_validate(body), receive_count=3)
    records = dead_letter(stack, body)
    ender = dead_letters.ender()
    original = ender.publisher.publish

    def unavailable(_result: Any) -> str:
        raise RuntimeError("SNS unavailable")

    monkeypatch.setattr(ender.publisher, "publish", unavailable)
    with pytest.raises(BatchProcessingError):  # every record failed: the batch fails
        invoke(dead_letters, {"Records": records})
    assert job_item(stack, body["job_id"])["publish_pending"] is True
    # When: the event source retries the record
    monkeypatch.setattr(ender.publisher, "publish", original)
    response = invoke(dead_letters, {"Records": records})
    # Then: the stored FAILED result is published, once
    assert response == {"batchItemFailures": []}
    assert [p["status"] for p in published(stack)] == ["FAILED"]
    assert "publish_pending" not in job_item(stack, body["job_id"])


def test_a_result_a_worker_stored_but_never_published_is_published_from_the_dlq(
    stack: JobStack, dead_letters: ModuleType
) -> None:
    # Given: a worker that failed the job on its last receive and died before publishing
    body = job_message(ALGO, sample_ref("CT_small.dcm"))
    job = JobMessage.model_validate(body)
    jobs = table(stack)
    jobs.claim(job, receive_count=3)
    assert jobs.finish(failed_result(job, "the job could not be completed in 3 attempts"))
    stored = job_item(stack, body["job_id"])
    assert stored["publish_pending"] is True
    records = dead_letter(stack, body)
    # When
    response = invoke(dead_letters, {"Records": records})
    # Then: the worker's own result is published (not a new one), once
    assert response == {"batchItemFailures": []}
    assert [(p["status"], p["reason"]) for p in published(stack)] == [
        ("FAILED", "the job could not be completed in 3 attempts")
    ]
    item = job_item(stack, body["job_id"])
    assert "publish_pending" not in item
    assert {k: v for k, v in item.items() if k != "publish_pending"} == {
        k: v for k, v in stored.items() if k != "publish_pending"
    }
    # ...and a retried record publishes nothing more
    assert invoke(dead_letters, {"Records": records}) == {"batchItemFailures": []}
    assert published(stack) == []


# -- the sweeper ---------------------------------------------------------------------------------


@pytest.fixture
def sweeper(stack: JobStack, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("JOBS_TABLE", stack.jobs_table)
    monkeypatch.setenv("RESULTS_TOPIC_ARN", stack.results_topic_arn)
    monkeypatch.setenv("STALE_AFTER_SECONDS", "900")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "job-sweeper")
    return load_function("job_sweeper")


def running_job(stack: JobStack, heartbeat_age_seconds: int) -> dict[str, Any]:
    body = job_message(ALGO, sample_ref("CT_small.dcm"))
    table(stack).claim(JobMessage.model_validate(body), receive_count=1)
    boto3.client("dynamodb").update_item(
        TableName=stack.jobs_table,
        Key={"job_id": {"S": body["job_id"]}},
        UpdateExpression="SET heartbeat_at = :beat",
        ExpressionAttributeValues={":beat": {"N": str(int(time.time()) - heartbeat_age_seconds)}},
    )
    return body


def test_the_sweeper_fails_a_job_whose_heartbeat_stopped_and_leaves_live_ones(
    stack: JobStack, pacs_url: str, sweeper: ModuleType
) -> None:
    # Given: a job whose worker stopped beating 20 minutes ago, one that beat a minute ago,
    # one whose heartbeat was stale until its worker beat again (JobsTable.beat), a DONE job
    lost = running_job(stack, heartbeat_age_seconds=1200)
    alive = running_job(stack, heartbeat_age_seconds=60)
    revived = running_job(stack, heartbeat_age_seconds=1200)
    table(stack).beat(revived["job_id"])
    finished = job_message(ALGO, sample_ref("MR_small.dcm"))
    send_job(stack, finished)
    make_worker(stack, pacs_url).poll_once()
    drain(stack.results_queue_url)
    before = {b["job_id"]: job_item(stack, b["job_id"]) for b in (alive, revived, finished)}
    # When: the scheduled sweep runs
    report = invoke(sweeper, load_event("job_sweeper_schedule"))
    # Then: only the lost job is FAILED, with the reason, and published
    reason = (
        "the job's worker stopped reporting progress (no heartbeat for over 900 s); "
        "the job was ended by the sweeper"
    )
    assert report["failed"] == 1
    assert report["complete"] is True
    item = job_item(stack, lost["job_id"])
    assert (item["status"], item["reason"], item["ended_by"]) == ("FAILED", reason, "sweeper")
    assert [(p["job_id"], p["reason"]) for p in published(stack)] == [(lost["job_id"], reason)]
    assert {k: job_item(stack, k) for k in before} == before
    # When: it runs again / Then: nothing more to do
    assert invoke(sweeper, load_event("job_sweeper_schedule"))["failed"] == 0
    assert published(stack) == []


def queued_job(stack: JobStack, age_seconds: int) -> dict[str, Any]:
    """A row as the router writes it (QUEUED, created ``age_seconds`` ago, with its request)."""
    body = job_message(ALGO, sample_ref("CT_small.dcm"))
    created = datetime.fromtimestamp(time.time() - age_seconds, UTC)
    boto3.client("dynamodb").put_item(
        TableName=stack.jobs_table,
        Item={
            "job_id": {"S": body["job_id"]},
            "status": {"S": "QUEUED"},
            "client_id": {"S": body["client_id"]},
            "algo_id": {"S": body["algo_id"]},
            "request": {"S": json.dumps(body)},
            "created_at": {"S": created.isoformat(timespec="microseconds")},
            "updated_at": {"S": created.isoformat(timespec="microseconds")},
        },
    )
    return body


def test_the_sweeper_fails_a_job_no_worker_took_within_a_day_and_a_late_worker_drops_it(
    stack: JobStack, pacs_url: str, sweeper: ModuleType
) -> None:
    # Given: a job queued 25 hours ago that no worker took (its request still in the queue),
    # and one queued a minute ago
    forgotten = queued_job(stack, age_seconds=25 * 3600)
    send_job(stack, forgotten)
    recent = queued_job(stack, age_seconds=60)
    # When: the scheduled sweep runs
    report = invoke(sweeper, load_event("job_sweeper_schedule"))
    # Then: the forgotten job is FAILED with the reason and published, the recent one waits
    reason = (
        "no worker took the job within 86400 s of its submission; the job was ended by the sweeper"
    )
    assert report["failed"] == 1
    item = job_item(stack, forgotten["job_id"])
    assert (item["status"], item["reason"]) == ("FAILED", reason)
    assert [(p["job_id"], p["reason"]) for p in published(stack)] == [(forgotten["job_id"], reason)]
    assert job_item(stack, recent["job_id"])["status"] == "QUEUED"
    # When: a worker finally receives the forgotten request / Then: it drops it, runs nothing,
    # and the client is not told twice
    make_worker(stack, pacs_url).poll_once()
    assert job_item(stack, forgotten["job_id"])["status"] == "FAILED"
    assert published(stack) == []
    assert queued(stack.request_queue_url) == 0


def test_a_running_jobs_heartbeat_keeps_it_from_the_sweeper(stack: JobStack) -> None:
    # Given: a job claimed 20 minutes ago, and its message received by its worker
    body = running_job(stack, heartbeat_age_seconds=1200)
    send_job(stack, body)
    sqs = boto3.client("sqs")
    message = sqs.receive_message(QueueUrl=stack.request_queue_url, VisibilityTimeout=30)
    jobs = table(stack)
    # When: the worker's heartbeat beats while the job runs (every 0.3 s here, 40 s deployed)
    with VisibilityHeartbeat(
        sqs,
        stack.request_queue_url,
        message["Messages"][0]["ReceiptHandle"],
        visibility_timeout_seconds=30,
        interval_seconds=0.3,
        on_beat=lambda: jobs.beat(body["job_id"]),
    ) as heartbeat:
        time.sleep(1.0)
    # Then: heartbeat_at is fresh again
    assert heartbeat.extensions >= 2
    assert int(job_item(stack, body["job_id"])["heartbeat_at"]) >= int(time.time()) - 5


# -- the memory budget ---------------------------------------------------------------------------


def test_a_series_over_the_memory_budget_is_refused_before_download(
    stack: JobStack, pacs_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: a 3-slice 512 x 512 CT series, and a task with 8 MiB left over for a job
    study, series = large_series(stack.pacs_bucket, instances=3, size=512)
    body = job_message(ALGO, series=(study, series))
    send_job(stack, body)
    worker = make_worker(stack, pacs_url, TASK_MEMORY_MIB="520", MEMORY_RESERVED_MIB="512")
    downloads: list[str] = []
    download = worker.runner.pacs.download_instance
    monkeypatch.setattr(
        worker.runner.pacs,
        "download_instance",
        lambda *ids: downloads.append(ids[-1]) or download(*ids),
    )
    # When
    outcome = worker.poll_once()
    # Then: FAILED with the reason (an input error: published, the message consumed) and
    # nothing was downloaded
    assert outcome is not None
    assert outcome.action == "failed"
    reason = job_item(stack, body["job_id"])["reason"]
    assert reason.startswith(f"series {series} is too large to process: 3 instance(s), 786,432 ")
    assert "over this worker's budget of 8 MiB (task memory 520 MiB, 512 MiB reserved)" in reason
    assert [p["reason"] for p in published(stack)] == [reason]
    assert downloads == []
    assert queued(stack.request_queue_url) == 0


def test_the_same_series_fits_the_templates_task_memory(stack: JobStack, pacs_url: str) -> None:
    # Given: the same kind of series, and the task memory the template deploys (2048 MiB)
    study, series = large_series(stack.pacs_bucket, instances=3, size=512)
    body = job_message(ALGO, series=(study, series))
    send_job(stack, body)
    # When
    outcome = make_worker(stack, pacs_url).poll_once()
    # Then
    assert outcome is not None
    assert outcome.action == "done"
    assert json.loads(job_item(stack, body["job_id"])["result"])["measurements"]["slices"] == 3


def test_an_image_job_is_sized_by_a_qido_search_for_its_instance(
    stack: JobStack, pacs_url: str
) -> None:
    # Given: the worker's PACS client / When the instance of an image job is searched for
    ref: InstanceRef = sample_ref("CT_small.dcm")
    pacs = make_worker(stack, pacs_url).runner.pacs
    listed = pacs.list_instances(ref.study_id, ref.series_id, ref.instance_id)
    unknown = pacs.list_instances(ref.study_id, ref.series_id, "1.2.3.4.5")
    # Then: its size is what the file says (CT_small: 128 x 128, 16 bits, one frame)
    assert [(i.instance_id, i.size) for i in listed] == [(ref.instance_id, listed[0].size)]
    size = listed[0].size
    assert size is not None
    assert (size.rows, size.columns, size.frames, size.samples, size.bits_allocated) == (
        128,
        128,
        1,
        1,
        16,
    )
    assert unknown == []
