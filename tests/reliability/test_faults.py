"""Injected faults (issue 12): each one asserts that nothing is lost and nothing is delivered
twice, as the client sees it (a job's result pushed once; an image's message sent once; each
sampled frame of a video once), and says which dedup id makes a replay harmless where the
design is at-least-once.

How each fault is injected (``tests.support.faults``): ECS tasks are local process groups, so a
SIGKILL or SIGSTOP reaches exactly one task; a service is taken down by setting its desired count
to 0 (what a failed deployment or an AZ outage looks like to its callers: the load balancer
answers 503); moto's server runs in this process, so DynamoDB throttling is a patch of its
handler that every function and task sees.
"""

from __future__ import annotations

import io
import json
import os
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pydicom
import pytest
import requests

from localcloud.cloud import LocalCloud
from pipeline_common.contracts.video import video_id_for
from tests.reliability.conftest import REQUEST_VISIBILITY_SECONDS, YOLO_LEASE_SECONDS
from tests.reliability.helpers import (
    PushClient,
    final_job,
    instance,
    job_item,
    queue_messages,
    wait_status,
)
from tests.support.faults import (
    dynamodb_throttled,
    frozen,
    kill_service_task,
    outage,
    scale,
    service_pids,
    signal_group,
    task_pids,
    wait_for_tasks,
)
from tests.support.image_samples import photo_jpeg
from tests.support.stack import QueueRecorder, s3_notification
from tests.support.video_samples import make_video
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.reliability]

# The PACS outage: 30 s in the issue, against a 120 s visibility timeout on AWS (one retry).
# This stack's visibility timeout is 10 s (conftest), so the default, 8 s, keeps the same shape
# (the first attempt fails, the redelivery succeeds) in a bounded test. PACS_OUTAGE_SECONDS
# overrides it; up to about 2 x REQUEST_VISIBILITY_SECONDS fits the request queues' 3 receives.
PACS_OUTAGE_SECONDS = float(os.environ.get("PACS_OUTAGE_SECONDS", "8"))


@pytest.fixture
def client(stack: LocalCloud, rest, user):
    push = PushClient(stack, rest, user)
    yield push
    push.close()


DEAD_LETTER_QUEUES = (
    "ResultsDLQUrl",
    "Processing1RequestDLQUrl",
    "Processing2RequestDLQUrl",
    "Processing3RequestDLQUrl",
    "VideoProcessingDLQUrl",
)


@pytest.fixture(autouse=True)
def no_dead_letters(stack: LocalCloud):
    """After every fault: no job, result or frame message was given up to a dead-letter queue
    (counted from where each queue stood before the test)."""
    before = {dlq: queue_messages(stack, dlq) for dlq in DEAD_LETTER_QUEUES}
    yield
    after = {dlq: queue_messages(stack, dlq) for dlq in DEAD_LETTER_QUEUES}
    assert after == before


@pytest.mark.timeout(120)
def test_worker_sigkilled_mid_job_is_replaced_and_the_job_is_pushed_once(stack, pacs, client):
    # Given a job its worker is in the middle of (the PACS frozen: the fetch hangs)
    [pacs_task] = service_pids(stack, "PacsApiService")
    with frozen(pacs_task):
        job = client.submit("processing_1", instance(pacs, "CT_small.dcm"))
        wait_status(stack, job, "RUNNING", timeout=60)

        # When the worker is SIGKILLed (no clean shutdown, its message never released)
        kill_service_task(stack, "Processing1Service")

    # Then ECS replaces it, the message comes back after its visibility timeout, the job is
    # done by the new worker and pushed exactly once
    wait_for_tasks(stack, "Processing1Service", 1)
    client.assert_each_once([job])
    item = job_item(stack, job)
    assert item["status"]["S"] == "DONE"
    assert int(item["receive_count"]["N"]) >= 2  # the second delivery did it


@pytest.mark.timeout(150)
def test_pacs_down_for_a_while_every_job_is_done_once(stack, pacs, client):
    # Given the PACS API down (its service at 0 tasks: the load balancer answers 503)
    thread = outage(stack, "PacsApiService", PACS_OUTAGE_SECONDS)
    wait_for(lambda: not service_pids(stack, "PacsApiService"), timeout=20, what="the outage")

    # When jobs for every algorithm arrive during the outage
    ct = instance(pacs, "CT_small.dcm")
    jobs = [client.submit(f"processing_{n}", ct) for n in (1, 2, 3, 1, 2, 3)]
    thread.join()

    # Then each is retried (redelivered) until the PACS is back, done, and pushed once
    client.assert_each_once(jobs)
    for job in jobs:
        assert job_item(stack, job)["status"]["S"] == "DONE"


def _video_frames(recorder: QueueRecorder, video_id: str, kind: str) -> list[dict[str, Any]]:
    return [m for m in recorder.matching(kind=kind) if m["video_id"] == video_id]


def _upload_video(stack: LocalCloud, key: str, path: Path) -> str:
    bucket = stack.outputs["VideoInputBucketName"]
    put = stack.client("s3").put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    return video_id_for(bucket, key, put.get("VersionId"))


@pytest.mark.timeout(240)
def test_yolo_task_killed_mid_video_resumes_from_its_checkpoint(
    stack, video_results, tmp_path: Path
):
    # Given a video whose frames the YOLO service is working through
    video = make_video(tmp_path / "long.mp4", frames=60, fps=10.0)
    video_id = _upload_video(stack, "videos/killed-mid-video.mp4", video)
    wait_for(
        lambda: _video_frames(video_results, video_id, "video.frame"),
        timeout=120,
        interval=0.1,
        what="the first frame",
    )

    # When its task is SIGKILLed (its lease is not released; ECS starts a new task)
    kill_service_task(stack, "YoloStreamService")
    frames_before = len(_video_frames(video_results, video_id, "video.frame"))

    # Then the new task takes the lease once it expires, resumes at the checkpoint, and every
    # sampled frame is delivered exactly once (a frame replayed after the checkpoint has the
    # same FIFO dedup id, video id + frame index, so the queue drops the copy)
    [summary] = wait_for(
        lambda: _video_frames(video_results, video_id, "video.summary"),
        timeout=150,
        what="the summary",
    )
    time.sleep(2)
    indexes = [m["frame_index"] for m in _video_frames(video_results, video_id, "video.frame")]
    assert sorted(indexes) == list(range(0, 60, 5)), indexes
    assert frames_before < len(indexes), "the kill came after the last frame"
    assert summary["frames"] == 12
    assert summary["frames_failed"] == 0
    assert len(_video_frames(video_results, video_id, "video.summary")) == 1
    assert not _video_frames(video_results, video_id, "video.failed")
    assert YOLO_LEASE_SECONDS < 60  # the stack's lease, shortened so the takeover is quick


@pytest.mark.timeout(240)
def test_a_poison_kinesis_record_is_a_frame_failure_and_the_shard_goes_on(
    stack, video_results, tmp_path: Path
):
    # Given a well-formed frame record that fails every time it is processed, not as a bad
    # frame (FrameError) but as an unexpected error: its S3 reference names an invalid bucket
    # (botocore refuses the call: ParamValidationError)
    poison_video = f"vpoison{uuid.uuid4().hex[:8]}"
    record = {
        "kind": "frame",
        "video_id": poison_video,
        "frame_index": 3,
        "timestamp_ms": 300.0,
        "width": 64,
        "height": 64,
        "s3": {"bucket": "not a bucket!", "key": "frames/3.jpg"},
    }
    kinesis = stack.client("kinesis")
    stream = stack.outputs["VideoFrameStreamName"]
    kinesis.put_record(StreamName=stream, PartitionKey=poison_video, Data=json.dumps(record))

    # When a real video follows it on the stream (one shard: the same shard)
    video = make_video(tmp_path / "after-poison.mp4", frames=10, fps=10.0)
    video_id = _upload_video(stack, "videos/after-poison.mp4", video)

    # Then the poison record becomes one frame-level video.failed after MAX_RECORD_ATTEMPTS
    [failed] = wait_for(
        lambda: _video_frames(video_results, poison_video, "video.failed"),
        timeout=150,
        what="the poison record's failure",
    )
    assert failed["level"] == "frame"
    assert failed["frame_index"] == 3
    assert failed["reason"]

    # And the shard went on: the next video is processed, each frame once
    wait_for(
        lambda: _video_frames(video_results, video_id, "video.summary"),
        timeout=150,
        what="the next video's summary",
    )
    time.sleep(2)
    frames = [m["frame_index"] for m in _video_frames(video_results, video_id, "video.frame")]
    assert sorted(frames) == [0, 5]
    assert len(_video_frames(video_results, poison_video, "video.failed")) == 1


@pytest.mark.timeout(120)
def test_pushes_to_gone_connections_lose_nothing(stack, rest, user, pacs, client):
    # Given a client with a live connection and two gone ones (no $disconnect reached us), and
    # a second client whose only connection is gone
    table = stack.outputs["ConnectionsTableName"]
    dynamodb = stack.client("dynamodb")
    orphan = rest("POST", "/clients", user=user, json={"delivery": "push"}).json()["client_id"]
    gone = {f"gone-{n}-{uuid.uuid4().hex[:8]}=": owner for n, owner in
            ((1, client.client_id), (2, client.client_id), (3, orphan))}  # fmt: skip
    for connection_id, client_id in gone.items():
        dynamodb.put_item(
            TableName=table,
            Item={
                "connection_id": {"S": connection_id},
                "client_id": {"S": client_id},
                "owner": {"S": user.sub},
                "connected_at": {"S": "2026-01-01T00:00:00Z"},
                "ttl": {"N": str(int(time.time()) + 3600)},
            },
        )

    # When results are pushed to both clients
    ct = instance(pacs, "MR_small.dcm")
    jobs = [client.submit("processing_3", ct) for _ in range(3)]
    body = {"client_id": orphan, "pacs": ct}
    orphan_job = rest("POST", "/process/processing_3", user=user, json=body).json()["job_id"]

    # Then the live connection gets each of its results once, the gone connections are removed
    # (GoneException), and the orphan's result stays retrievable with GET /jobs
    client.assert_each_once(jobs)
    assert final_job(rest, user, orphan_job)["status"] == "DONE"
    wait_for(
        lambda: all(
            "Item" not in dynamodb.get_item(TableName=table, Key={"connection_id": {"S": c}})
            for c in gone
        ),
        timeout=60,
        what="the gone connections' removal",
    )


def _image_messages(recorder: QueueRecorder, key: str) -> list[dict[str, Any]]:
    return [m for m in recorder.drain() if (m.get("input") or {}).get("key") == key]


def _upload_image(stack: LocalCloud, key: str) -> None:
    bucket = stack.outputs["ImageInputBucketName"]
    stack.client("s3").put_object(Bucket=bucket, Key=key, Body=photo_jpeg())


@pytest.mark.timeout(120)
def test_a_redelivered_s3_notification_processes_the_object_once(stack, image_results):
    # Given a photo being processed
    key = f"redelivered/{uuid.uuid4().hex[:8]}.jpg"
    _upload_image(stack, key)
    bucket = stack.outputs["ImageInputBucketName"]
    event = s3_notification(stack.client("s3"), bucket, key)

    # When S3 delivers its notification three more times, at once (at-least-once delivery)
    threads = [
        threading.Thread(target=stack.invoke, args=("ImageDispatcherFunction", event))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then one execution (its name derives from the object version) sends one message
    wait_for(lambda: _image_messages(image_results, key), timeout=90, what=key)
    time.sleep(3)
    [message] = _image_messages(image_results, key)
    assert message["status"] == "SUCCEEDED"


@pytest.mark.timeout(150)
def test_a_grayscale_task_that_fails_is_retried_and_reports_once(stack, image_results):
    # Given a photo whose grayscale task is killed as soon as it starts (a crash, an instance
    # lost: not a bad input, so worth another try)
    killed: list[int] = []

    def kill_first_task() -> None:
        pids = wait_for(lambda: task_pids(stack, "grayscale"), timeout=60, interval=0.02)
        signal_group(pids[0], signal.SIGKILL)
        killed.append(pids[0])

    killer = threading.Thread(target=kill_first_task, daemon=True)
    killer.start()
    key = f"retried/{uuid.uuid4().hex[:8]}.jpg"
    _upload_image(stack, key)
    killer.join(timeout=70)
    assert killed, "no grayscale task started"

    # Then the state machine runs the task again, and one SUCCEEDED message reports the image
    wait_for(lambda: _image_messages(image_results, key), timeout=120, what=key)
    time.sleep(3)
    [message] = _image_messages(image_results, key)
    assert message["status"] == "SUCCEEDED", message
    s3 = stack.client("s3")
    assert s3.head_object(Bucket=stack.outputs["ImageOutputBucketName"], Key=f"gray/{key}")


@pytest.mark.timeout(150)
def test_dynamodb_throttling_is_retried_and_every_job_is_pushed_once(stack, pacs, client):
    # Given every other DynamoDB read and write on the job, client and connection tables
    # throttled (ProvisionedThroughputExceededException, as past a table's capacity)
    tables = [stack.outputs[t] for t in ("JobsTableName", "ClientsTableName")]
    tables.append(stack.outputs["ConnectionsTableName"])
    ct = instance(pacs, "CT_small.dcm")
    with dynamodb_throttled(tables, every=2) as throttle:
        # When jobs are submitted, run and pushed
        jobs = [client.submit(f"processing_{n}", ct) for n in (1, 2, 3, 1, 2, 3)]
        client.wait_for_pushes(jobs)

    # Then the SDKs' retries absorbed the throttling: each job is done and pushed once
    assert throttle.refused > 0
    client.assert_each_once(jobs)
    for job in jobs:
        assert job_item(stack, job)["status"]["S"] == "DONE"


@pytest.mark.timeout(180)
def test_a_message_redelivered_after_its_visibility_timeout_is_pushed_once(stack, pacs, client):
    # Given a worker holding a job and hanging past the visibility timeout (frozen mid-job:
    # no heartbeat extends the message), and a second worker of the same algorithm
    [first] = service_pids(stack, "Processing3Service")
    [pacs_task] = service_pids(stack, "PacsApiService")
    signal_group(pacs_task, signal.SIGSTOP)
    try:
        job = client.submit("processing_3", instance(pacs, "MR_small.dcm"))
        wait_status(stack, job, "RUNNING", timeout=60)
        signal_group(first, signal.SIGSTOP)
    finally:
        signal_group(pacs_task, signal.SIGCONT)
    try:
        scale(stack, "Processing3Service", 2)

        # When the message reappears and the second worker takes it (receive 2) and finishes
        wait_status(stack, job, "DONE", timeout=REQUEST_VISIBILITY_SECONDS * 6)
        assert int(job_item(stack, job)["receive_count"]["N"]) >= 2
    finally:
        # And the first worker wakes up and finishes its (stale) attempt too
        signal_group(first, signal.SIGCONT)
    time.sleep(5)
    scale(stack, "Processing3Service", 1)

    # Then the job's result is pushed once: the late finish finds it DONE, republishes the
    # stored result with the same dedup id (the job id), and the FIFO topic and queue drop it
    client.assert_each_once([job], settle=3)
    assert job_item(stack, job)["status"]["S"] == "DONE"


@pytest.mark.timeout(60)
def test_a_fifo_deduplication_id_holds_after_the_first_message_was_consumed(stack):
    # Given a FIFO queue's message received and deleted
    sqs = stack.client("sqs")
    url = stack.outputs["ResultsDLQUrl"]
    dedup = uuid.uuid4().hex
    sent = {
        "QueueUrl": url,
        "MessageBody": "{}",
        "MessageGroupId": "g",
        "MessageDeduplicationId": dedup,
    }
    sqs.send_message(**sent)
    [message] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    # When the same deduplication id is sent again within five minutes
    sqs.send_message(**sent)

    # Then SQS drops it, as on AWS (moto alone delivered it: localcloud.moto_patches)
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)


def rescale_slope_zz(source: Path) -> bytes:
    """A CT image whose RescaleSlope is not a number (``'zz'``, written raw: pydicom would not
    write it otherwise): the modality LUT fails on it."""
    from pydicom.dataelem import RawDataElement
    from pydicom.tag import Tag

    ds = pydicom.dcmread(source)
    tag = Tag(0x0028, 0x1053)
    ds._dict[tag] = RawDataElement(tag, "DS", 2, b"zz", 0, False, True)
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


@pytest.mark.timeout(120)
def test_a_dicom_with_a_non_numeric_rescale_slope_ends_failed_with_a_reason(
    stack, rest, user, pacs, client
):
    # Given the crafted file in the PACS
    from pydicom.data import get_testdata_file

    from pacs_api.dicom_files import parse_dicom
    from pacs_api.dicomjson import summarize, unreadable_summary
    from pacs_api.errors import NotDicom
    from pacs_api.store import PacsStore

    body = rescale_slope_zz(Path(get_testdata_file("CT_small.dcm")))
    try:
        summary = summarize(parse_dicom(body, "rescale-zz"), body)
    except NotDicom as exc:
        summary = unreadable_summary(body, exc.message)
    store = PacsStore(stack.outputs["PacsBucketName"], stack.client("s3"))
    store.put_instance("crafted", "crafted-series", "rescale-zz", body, summary=summary, source="t")

    # When a job is submitted on it
    ref = {"study_id": "crafted", "series_id": "crafted-series", "image_id": "rescale-zz"}
    job = client.submit("processing_1", ref)

    # Then it ends FAILED with a reason (not RUNNING forever, nor in the DLQ), pushed once
    final = final_job(rest, user, job, timeout=60)
    assert final["status"] == "FAILED"
    assert "rescale" in final["reason"].lower(), final["reason"]
    client.assert_each_once([job])


@pytest.mark.timeout(120)
def test_a_poll_client_whose_connection_drops_mid_poll_loses_no_result(stack, rest, user, pacs):
    # Given a poll client whose long poll (GET /results, 10 s) is abandoned after 1 s: its
    # connection dropped, or API Gateway's 29 s limit cut a slow answer short (504)
    created = rest("POST", "/clients", user=user, json={"delivery": "poll"})
    assert created.status_code == 201, created.text
    client_id = created.json()["client_id"]
    url = f"{rest.base_url}/results"
    [pacs_task] = service_pids(stack, "PacsApiService")
    with frozen(pacs_task):  # the job finishes only once the client has gone
        body = {"client_id": client_id, "pacs": instance(pacs, "CT_small.dcm")}
        job = rest("POST", "/process/processing_2", user=user, json=body).json()["job_id"]
        with pytest.raises(requests.Timeout):
            requests.get(
                url,
                params={"client_id": client_id, "wait_seconds": 10},
                headers=user.rest_headers,
                timeout=1,
            )

    # When the job's result arrives while that abandoned poll is still waiting, and the client
    # polls again from where it was (no cursor yet: the start)
    wait_status(stack, job, "DONE", timeout=60)
    received: list[dict[str, Any]] = []
    cursor = ""
    deadline = time.monotonic() + 30  # past the abandoned poll's wait
    while time.monotonic() < deadline:
        params = {"client_id": client_id, **({"after": cursor} if cursor else {})}
        answer = rest("GET", "/results", user=user, params=params)
        assert answer.status_code == 200, answer.text
        received += answer.json()["results"]
        cursor = answer.json()["next_cursor"]
        if received:
            break
        time.sleep(0.5)
    again = rest("GET", "/results", user=user, params={"client_id": client_id, "after": cursor})

    # Then the result is delivered to the client once (a poll nobody read consumed nothing),
    # and the next page after it is empty
    assert [r["job_id"] for r in received] == [job]
    assert again.json()["results"] == []
