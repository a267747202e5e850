"""The algorithm worker end to end in one process: moto in server mode, the real PACS API over
HTTP (uvicorn in a thread), real pydicom files, the real FIFO queue -> topic -> queue fan-out."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import cv2
import highdicom as hd
import numpy as np
import pytest
from dicomweb_client.api import DICOMwebClient
from pydicom import dcmread
from pydicom.dataset import Dataset

from pipeline_common.contracts.jobs import JobMessage
from tests.support.dicom_samples import (
    MR700_SERIES_SIZE,
    InstanceRef,
    JobStack,
    broken_ref,
    dciodvfy_errors,
    drain,
    free_port,
    job_item,
    job_message,
    moto_server,
    mr700_series,
    pacs_api_server,
    sample_path,
    sample_ref,
    seeded_job_stack,
    send_job,
)

# isort: split
from algorithm_worker.algorithms import REGISTRY
from algorithm_worker.heartbeat import VisibilityHeartbeat
from algorithm_worker.settings import WorkerSettings
from algorithm_worker.worker import Worker

ALGO = "processing_1"


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def stack(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[JobStack]:
    yield from seeded_job_stack(moto_endpoint, monkeypatch, ALGO, with_broken=True)


@pytest.fixture
def pacs_url(stack: JobStack) -> Iterator[str]:
    with pacs_api_server(stack.pacs_bucket) as url:
        yield url


def make_worker(stack: JobStack, pacs_url: str, algo_id: str = ALGO, **env: str) -> Worker:
    values = {k.lower(): v for k, v in stack.worker_env(pacs_url, algo_id, **env).items()}
    return Worker(WorkerSettings(**values), REGISTRY[algo_id])


def s3_json(bucket: str, key: str) -> dict:
    return json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def s3_png(bucket: str, key: str) -> np.ndarray:
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_UNCHANGED)


def in_flight(queue_url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


@pytest.mark.parametrize("algo_id", sorted(REGISTRY))
def test_an_image_job_ends_done_with_outputs_and_one_published_result(
    stack: JobStack, pacs_url: str, algo_id: str
) -> None:
    # Given
    body = job_message(algo_id, sample_ref("CT_small.dcm"))
    send_job(stack, body)
    worker = make_worker(stack, pacs_url, algo_id)
    # When
    outcome = worker.poll_once()
    # Then: the table says DONE and keeps the result
    assert outcome is not None
    assert outcome.action == "done"
    item = job_item(stack, body["job_id"])
    assert item["status"] == "DONE"
    assert item["client_id"] == body["client_id"]
    stored = json.loads(item["result"])
    assert stored["measurements"]["component_count"] > 0
    assert 0 < stored["measurements"]["mask_area_px"] < 128 * 128
    # ...the outputs exist under the job's deterministic keys
    document = s3_json(stack.output_bucket, f"jobs/{body['job_id']}/result.json")
    assert document["result"]["measurements"] == stored["measurements"]
    assert document["algorithm"]["algo_id"] == algo_id
    overlay = s3_png(stack.output_bucket, f"jobs/{body['job_id']}/overlay.png")
    assert overlay.shape == (128, 128, 3)
    # ...exactly one result reached ResultsQueue.fifo through the topic, keyed by the client
    results = drain(stack.results_queue_url)
    assert len(results) == 1
    published = json.loads(results[0]["Body"])
    assert published["status"] == "DONE"
    assert published["outputs"]["overlay"]["key"] == f"jobs/{body['job_id']}/overlay.png"
    assert results[0]["MessageAttributes"]["client_id"]["StringValue"] == body["client_id"]
    assert results[0]["Attributes"]["MessageGroupId"] == body["client_id"]
    # ...and the request is gone from its queue
    assert in_flight(stack.request_queue_url) == 0


def test_a_series_job_runs_every_slice_in_instance_number_order(
    stack: JobStack, pacs_url: str
) -> None:
    # Given: pydicom's MR700 series, whose file order is not its InstanceNumber order
    body = job_message(ALGO, series=mr700_series())
    send_job(stack, body)
    # When
    make_worker(stack, pacs_url).poll_once()
    # Then
    document = s3_json(stack.output_bucket, f"jobs/{body['job_id']}/result.json")
    numbers = [s["instance_number"] for s in document["slices"]]
    assert numbers == list(range(1, MR700_SERIES_SIZE + 1))
    measurements = document["result"]["measurements"]
    assert measurements["instances"] == MR700_SERIES_SIZE
    assert measurements["mask_area_px"] == sum(s["mask_area_px"] for s in document["slices"])
    # 7 slices of 16x16 on a 3x3 grid
    assert s3_png(stack.output_bucket, f"jobs/{body['job_id']}/overlay.png").shape == (48, 48, 3)


def test_the_input_is_read_from_the_pacs_while_the_claim_is_written(
    stack: JobStack, pacs_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: a JobsTable whose claim takes a second to answer
    body = job_message(ALGO, sample_ref("CT_small.dcm"))
    send_job(stack, body)
    worker = make_worker(stack, pacs_url)
    events: list[str] = []
    claim, download = worker.table.claim, worker.runner.pacs.download_instance

    def slow_claim(*args: Any) -> Any:
        time.sleep(1.0)
        claimed = claim(*args)
        events.append("claimed")
        return claimed

    def recorded_download(*ids: str) -> bytes:
        data = download(*ids)
        events.append("downloaded")
        return data

    monkeypatch.setattr(worker.table, "claim", slow_claim)
    monkeypatch.setattr(worker.runner.pacs, "download_instance", recorded_download)
    # When
    outcome = worker.poll_once()
    # Then: the download did not wait for the claim, and the job ran once, as usual
    assert outcome is not None
    assert outcome.action == "done"
    assert events == ["downloaded", "claimed"]
    assert len(drain(stack.results_queue_url)) == 1


def test_a_redelivered_done_job_is_not_run_again(stack: JobStack, pacs_url: str) -> None:
    # Given: a job that completed once
    body = job_message(ALGO, sample_ref("MR_small.dcm"))
    send_job(stack, body)
    worker = make_worker(stack, pacs_url)
    worker.poll_once()
    first = job_item(stack, body["job_id"])
    result_key = f"jobs/{body['job_id']}/result.json"
    first_etag = boto3.client("s3").head_object(Bucket=stack.output_bucket, Key=result_key)
    # When: the same job arrives again (a retried send, so a new dedup id)
    send_job(stack, body, dedup_id=body["job_id"] + "-again")
    outcome = worker.poll_once()
    # Then: skipped, nothing rewritten, one result delivered, the message consumed
    assert outcome is not None
    assert outcome.action == "skipped"
    assert job_item(stack, body["job_id"]) == first
    again = boto3.client("s3").head_object(Bucket=stack.output_bucket, Key=result_key)
    assert again["LastModified"] == first_etag["LastModified"]
    assert len(drain(stack.results_queue_url)) == 1
    assert in_flight(stack.request_queue_url) == 0


def test_a_done_job_never_published_is_published_on_redelivery(
    stack: JobStack, pacs_url: str
) -> None:
    # Given: a worker that died between writing DONE and publishing (its message came back)
    body = job_message(ALGO, sample_ref("MR_small.dcm"))
    send_job(stack, body)
    worker = make_worker(stack, pacs_url)
    worker.publisher.publish = lambda result: "not published"  # type: ignore[method-assign]
    worker.poll_once()
    assert drain(stack.results_queue_url) == []
    # (it died before confirming: the row still says its publish is pending)
    boto3.client("dynamodb").update_item(
        TableName=stack.jobs_table,
        Key={"job_id": {"S": body["job_id"]}},
        UpdateExpression="SET publish_pending = :pending",
        ExpressionAttributeValues={":pending": {"BOOL": True}},
    )
    send_job(stack, body, dedup_id=body["job_id"] + "-redelivered")
    # When
    outcome = make_worker(stack, pacs_url).poll_once()
    # Then: the stored result is delivered, once
    assert outcome is not None
    assert outcome.action == "skipped"
    results = drain(stack.results_queue_url)
    assert [json.loads(m["Body"])["job_id"] for m in results] == [body["job_id"]]


def test_a_published_job_redelivered_later_is_not_published_again(
    stack: JobStack, pacs_url: str
) -> None:
    # Given: a job done and published, whose request comes back later (a visibility timeout
    # that ran out, SQS's at-least-once)
    body = job_message(ALGO, sample_ref("MR_small.dcm"))
    send_job(stack, body)
    make_worker(stack, pacs_url).poll_once()
    assert len(drain(stack.results_queue_url)) == 1
    send_job(stack, body, dedup_id=body["job_id"] + "-redelivered")
    # When
    outcome = make_worker(stack, pacs_url).poll_once()
    # Then: nothing is run or sent again
    assert outcome is not None
    assert outcome.action == "skipped"
    assert drain(stack.results_queue_url) == []


@pytest.mark.parametrize(
    ("instance_id", "reason"),
    [
        (
            "MR_truncated",
            "instance MR_truncated pixel data cannot be decoded (Explicit VR Little Endian): "
            "The number of "
            "bytes of pixel data is less than expected (8130 vs 8192 bytes)",
        ),
        ("not-dicom", "instance not-dicom is not a DICOM file"),
        ("no-pixel-data", "instance no-pixel-data has no pixel data"),
        ("1.2.3.4.5", "not found in the PACS: instance 1.2.3.4.5 not found"),
    ],
)
def test_bad_input_fails_the_job_with_its_reason_and_loses_nothing(
    stack: JobStack, pacs_url: str, instance_id: str, reason: str
) -> None:
    # Given
    body = job_message(ALGO, broken_ref(instance_id))
    send_job(stack, body)
    # When
    outcome = make_worker(stack, pacs_url).poll_once()
    # Then: FAILED with the reason, published, the message consumed, no outputs
    assert outcome is not None
    assert outcome.action == "failed"
    item = job_item(stack, body["job_id"])
    assert item["status"] == "FAILED"
    assert item["reason"] == reason
    published = [json.loads(m["Body"]) for m in drain(stack.results_queue_url)]
    assert [(p["status"], p["reason"]) for p in published] == [("FAILED", reason)]
    assert in_flight(stack.request_queue_url) == 0
    listing = boto3.client("s3").list_objects_v2(Bucket=stack.output_bucket)
    assert listing.get("KeyCount", 0) == 0
    # ...and the PACS object is still there
    objects = boto3.client("s3").list_objects_v2(
        Bucket=stack.pacs_bucket, Prefix="studies/broken-samples/"
    )
    assert sum(o["Key"].endswith(".dcm") for o in objects["Contents"]) == 3


def test_a_job_for_another_algorithm_fails_clearly(stack: JobStack, pacs_url: str) -> None:
    # Given: a processing_2 job on processing_1's queue (a routing mistake)
    body = job_message("processing_2", sample_ref("CT_small.dcm"))
    send_job(stack, body)
    # When
    make_worker(stack, pacs_url).poll_once()
    # Then
    item = job_item(stack, body["job_id"])
    assert item["status"] == "FAILED"
    assert item["reason"] == "job for processing_2 reached the processing_1 worker"


def test_a_message_that_is_not_a_job_ends_in_the_dlq(stack: JobStack, pacs_url: str) -> None:
    # Given
    boto3.client("sqs").send_message(
        QueueUrl=stack.request_queue_url,
        MessageBody='{"hello": "world"}',
        MessageGroupId="g",
        MessageDeduplicationId="poison-1",
    )
    worker = make_worker(stack, pacs_url)
    # When: received as many times as the redrive policy allows (3)
    outcomes = [worker.poll_once() for _ in range(3)]
    # Then: never deleted by the worker; the queue moved it to the DLQ
    assert [o.action for o in outcomes if o] == ["poison"] * 3
    assert worker.poll_once() is None
    dead = drain(stack.request_dlq_url)
    assert [m["Body"] for m in dead] == ['{"hello": "world"}']


def test_an_unreachable_pacs_leaves_the_message_for_a_retry(stack: JobStack) -> None:
    # Given: nothing listens on the PACS port
    body = job_message(ALGO, sample_ref("CT_small.dcm"))
    send_job(stack, body)
    worker = make_worker(stack, f"http://127.0.0.1:{free_port()}")
    # When
    outcome = worker.poll_once()
    # Then: not FAILED, not deleted, nothing published
    assert outcome is not None
    assert outcome.action == "retry"
    assert job_item(stack, body["job_id"])["status"] == "RUNNING"
    assert in_flight(stack.request_queue_url) == 1
    assert drain(stack.results_queue_url) == []


def test_the_heartbeat_keeps_a_long_job_invisible(stack: JobStack) -> None:
    # Given: a message received with a 2-second visibility timeout
    sqs = boto3.client("sqs")
    send_job(stack, job_message(ALGO, sample_ref("CT_small.dcm")))
    message = sqs.receive_message(QueueUrl=stack.request_queue_url, VisibilityTimeout=2)[
        "Messages"
    ][0]
    # When: the job runs for twice as long while the heartbeat extends it every 0.5 s
    with VisibilityHeartbeat(
        sqs,
        stack.request_queue_url,
        message["ReceiptHandle"],
        visibility_timeout_seconds=2,
        interval_seconds=0.5,
    ) as heartbeat:
        stolen = sqs.receive_message(QueueUrl=stack.request_queue_url, WaitTimeSeconds=4)
    # Then: nobody else could take it meanwhile
    assert "Messages" not in stolen
    assert heartbeat.extensions >= 4


def run_image_job(stack: JobStack, pacs_url: str, name: str) -> tuple[InstanceRef, dict[str, Any]]:
    """A job on one instance of the PACS, run by a worker: the instance and its stored result."""
    source = sample_ref(name)
    body = job_message(ALGO, source)
    send_job(stack, body)
    make_worker(stack, pacs_url).poll_once()
    return source, json.loads(job_item(stack, body["job_id"])["result"])


def test_an_image_job_stores_its_mask_as_a_valid_seg_in_the_source_study(
    stack: JobStack, pacs_url: str, tmp_path: Path
) -> None:
    # Given / When: a job on CT_small
    ct, result = run_image_job(stack, pacs_url, "CT_small.dcm")
    # Then: the result names the SEG...
    seg_ref = result["outputs"]["seg"]
    assert seg_ref["study_id"] == ct.study_id
    assert seg_ref["sop_class_uid"] == "1.2.840.10008.5.1.4.1.1.66.4"
    # ...a DICOMweb search for Modality=SEG in the study finds it...
    client = DICOMwebClient(pacs_url, headers={"x-pacs-patient-access": "allowed"})
    found = client.search_for_series(ct.study_id, search_filters={"Modality": "SEG"})
    assert [Dataset.from_json(s).SeriesInstanceUID for s in found] == [seg_ref["series_id"]]
    # ...it reads back with highdicom, references the source and matches its geometry and mask
    stored = client.retrieve_instance(ct.study_id, seg_ref["series_id"], seg_ref["instance_id"])
    seg = hd.seg.Segmentation.from_dataset(stored)
    source = dcmread(sample_path("CT_small.dcm"))
    assert [
        i.ReferencedSOPInstanceUID
        for i in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence
    ] == [ct.instance_id]
    assert (seg.Rows, seg.Columns) == (source.Rows, source.Columns)
    assert str(seg.PatientID) == str(source.PatientID)
    assert str(seg.FrameOfReferenceUID) == str(source.FrameOfReferenceUID)
    mask = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=[ct.instance_id], segment_numbers=[1]
    )
    assert int(mask.sum()) == result["measurements"]["mask_area_px"]
    # ...and Debian's DICOM validator finds no error in it
    assert dciodvfy_errors(stored, tmp_path / "seg.dcm") == []


def test_an_image_job_stores_its_overlay_as_a_valid_secondary_capture_beside_the_source(
    stack: JobStack, pacs_url: str, tmp_path: Path
) -> None:
    # Given / When: a job on CT_small
    ct, result = run_image_job(stack, pacs_url, "CT_small.dcm")
    # Then: the result names the Secondary Capture, in the source study, found by a search...
    sc_ref = result["outputs"]["overlay_sc"]
    assert sc_ref["study_id"] == ct.study_id
    assert sc_ref["sop_class_uid"] == "1.2.840.10008.5.1.4.1.1.7"
    client = DICOMwebClient(pacs_url, headers={"x-pacs-patient-access": "allowed"})
    found = client.search_for_series(ct.study_id, search_filters={"Modality": "OT"})
    assert sc_ref["series_id"] in [Dataset.from_json(s).SeriesInstanceUID for s in found]
    # ...it names its source, keeps the patient, and its pixels are the overlay PNG's
    stored = client.retrieve_instance(ct.study_id, sc_ref["series_id"], sc_ref["instance_id"])
    source = dcmread(sample_path("CT_small.dcm"))
    assert [i.ReferencedSOPInstanceUID for i in stored.SourceImageSequence] == [ct.instance_id]
    assert str(stored.PatientID) == str(source.PatientID)
    assert stored.StudyDescription == source.StudyDescription  # the study list reads any instance
    assert list(stored.PatientOrientation) == ["L", "P"]  # rows along +x, columns along +y
    overlay_key = result["outputs"]["overlay"]["key"]
    png = boto3.client("s3").get_object(Bucket=stack.output_bucket, Key=overlay_key)["Body"].read()
    drawn = cv2.cvtColor(
        cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB
    )
    assert np.array_equal(stored.pixel_array, drawn)
    # ...and Debian's DICOM validator finds no error in it
    assert dciodvfy_errors(stored, tmp_path / "sc.dcm") == []


def test_a_series_the_seg_cannot_describe_still_ends_done_saying_why(
    stack: JobStack, pacs_url: str
) -> None:
    # Given: the MR700 series, whose slices do not share one orientation
    body = job_message(ALGO, series=mr700_series())
    send_job(stack, body)
    # When
    outcome = make_worker(stack, pacs_url).poll_once()
    # Then
    assert outcome is not None
    assert outcome.action == "done"
    result = json.loads(job_item(stack, body["job_id"])["result"])
    assert result["outputs"]["seg"] is None
    assert "orientation" in result["measurements"]["seg_skipped"]


def test_a_retried_job_does_not_store_a_second_seg(stack: JobStack, pacs_url: str) -> None:
    # Given: a job whose run is repeated (a worker died after storing the SEG)
    ct = sample_ref("CT_small.dcm")
    job = JobMessage.model_validate(job_message(ALGO, ct))
    runner = make_worker(stack, pacs_url).runner
    # When
    first = runner.run(job)
    second = runner.run(job)
    # Then: the same SEG, stored once
    assert first.outputs is not None
    assert second.outputs is not None
    assert first.outputs.seg == second.outputs.seg
    assert first.outputs.overlay_sc == second.outputs.overlay_sc
    client = DICOMwebClient(pacs_url)
    found = client.search_for_instances(ct.study_id, search_filters={"Modality": "SEG"})
    assert len(found) == 1
    captures = client.search_for_instances(ct.study_id, search_filters={"Modality": "OT"})
    assert len(captures) == 1
