"""Real DICOM samples (shipped by pydicom) and the PACS around them, for the PACS and worker tests.

Importing this module puts both containers' packages (``pacs_api``, ``algorithm_worker``) on
``sys.path``, the way their images and the local cloud run them.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.data import get_testdata_file

from tests.support.tables import create_table

ROOT = Path(__file__).resolve().parents[2]
for _path in (ROOT / "containers" / "pacs_api", ROOT / "containers" / "algorithm_worker"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

BROKEN_STUDY = "broken-samples"
BROKEN_SERIES = "broken-series"
MR700_SERIES_SIZE = 7


@dataclass(frozen=True)
class InstanceRef:
    study_id: str
    series_id: str
    instance_id: str

    @property
    def path(self) -> str:
        return f"/studies/{self.study_id}/series/{self.series_id}/instances/{self.instance_id}"


def sample_path(name: str) -> Path:
    path = get_testdata_file(name, download=False)
    assert path is not None, f"pydicom does not bundle {name}"
    return Path(path)


def sample_ref(name: str) -> InstanceRef:
    """The PACS ids of one bundled pydicom file: its own Study/Series/SOP Instance UIDs."""
    ds = dcmread(sample_path(name), stop_before_pixels=True)
    return InstanceRef(str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID))


def broken_ref(instance_id: str) -> InstanceRef:
    return InstanceRef(BROKEN_STUDY, BROKEN_SERIES, instance_id)


def with_new_uids(name: str, *, study_uid: str | None = None) -> bytes:
    """A bundled file as a new instance (new SOP Instance and Series UIDs; the study kept unless
    given), serialised as a PS3.10 file: what a modality would send next."""
    from io import BytesIO

    from pydicom.uid import generate_uid

    ds = dcmread(sample_path(name))
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.SeriesInstanceUID = generate_uid()
    if study_uid is not None:
        ds.StudyInstanceUID = study_uid
    out = BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def mr700_series() -> tuple[str, str]:
    ds = dcmread(sample_path("dicomdirtests/98892003/MR700/4467"), stop_before_pixels=True)
    return str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def pacs_api_server(
    bucket: str, presign_expiry_seconds: int = 300, **settings: Any
) -> Iterator[str]:
    """The real PACS API served by uvicorn in a thread on a free loopback port; yields its URL.
    ``settings`` are further ``PacsSettings`` fields (e.g. ``max_stow_part_bytes``)."""
    import uvicorn

    from pacs_api.app import create_app
    from pacs_api.settings import PacsSettings

    port = free_port()
    pacs_settings = PacsSettings(
        pacs_bucket=bucket,
        port=port,
        presign_expiry_seconds=presign_expiry_seconds,
        public_url=f"http://127.0.0.1:{port}",
        **settings,
    )
    config = uvicorn.Config(
        create_app(pacs_settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="pacs-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the PACS API did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# --- the AWS side of a worker: moto in server mode, resources shaped like template.yaml's -----


def template_properties(logical_id: str) -> dict[str, Any]:
    from localcloud.template import load_yaml

    properties: dict[str, Any] = load_yaml(ROOT / "template.yaml")["Resources"][logical_id][
        "Properties"
    ]
    return properties


def template_parameter_default(name: str) -> Any:
    from localcloud.template import load_yaml

    return load_yaml(ROOT / "template.yaml")["Parameters"][name]["Default"]


def put_pacs_instance(bucket: str, data: bytes, *, source: str = "crafted") -> InstanceRef:
    """Store one instance's bytes in the PACS bucket the way STOW-RS and the seed do (same
    layout, same index summary), under the file's own Study/Series/SOP Instance UIDs."""
    from io import BytesIO

    import boto3

    from pacs_api.dicom_files import parse_dicom
    from pacs_api.dicomjson import summarize
    from pacs_api.store import PacsStore

    header = dcmread(BytesIO(data), stop_before_pixels=True)
    ref = InstanceRef(
        str(header.StudyInstanceUID), str(header.SeriesInstanceUID), str(header.SOPInstanceUID)
    )
    summary = summarize(parse_dicom(data, ref.instance_id), data)
    PacsStore(bucket, boto3.client("s3")).put_instance(
        ref.study_id, ref.series_id, ref.instance_id, data, summary=summary, source=source
    )
    return ref


@dataclass(frozen=True)
class JobStack:
    """What one algorithm's worker talks to, created in the moto server at ``endpoint``."""

    endpoint: str
    pacs_bucket: str
    output_bucket: str
    jobs_table: str
    request_queue_url: str
    request_dlq_url: str
    results_topic_arn: str
    results_queue_url: str

    def worker_env(self, pacs_api_url: str, algo_id: str, **overrides: str) -> dict[str, str]:
        env = {
            "ALGO_ID": algo_id,
            "REQUEST_QUEUE_URL": self.request_queue_url,
            "PACS_API_URL": pacs_api_url,
            "OUTPUT_BUCKET": self.output_bucket,
            "JOBS_TABLE": self.jobs_table,
            "RESULTS_TOPIC_ARN": self.results_topic_arn,
            "VISIBILITY_TIMEOUT_SECONDS": "30",
            "WAIT_TIME_SECONDS": "1",
            "JOB_TTL_DAYS": "7",
            # As the template deploys it: the queue's maxReceiveCount, the task's memory.
            "MAX_RECEIVE_COUNT": str(
                template_properties("Processing1RequestQueue")["RedrivePolicy"]["maxReceiveCount"]
            ),
            "TASK_MEMORY_MIB": str(template_parameter_default("AlgorithmWorkerTaskMemory")),
        }
        env.update(overrides)
        return env


def create_job_stack(algo_id: str = "processing_1") -> JobStack:
    """Buckets, JobsTable, the algorithm's FIFO request queue (+DLQ), ResultsTopic and
    ResultsQueue.fifo subscribed with raw delivery, in whatever AWS_ENDPOINT_URL points at."""
    import boto3

    s3, sqs, sns = (boto3.client(n) for n in ("s3", "sqs", "sns"))
    for bucket in ("pacs-bucket", "output-bucket"):
        s3.create_bucket(Bucket=bucket)
    create_table("JobsTable", "jobs-table")
    queue = template_properties("Processing1RequestQueue")
    dlq_url = sqs.create_queue(QueueName=f"{algo_id}-dlq.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    request_url = sqs.create_queue(
        QueueName=f"{algo_id}.fifo",
        Attributes={
            "FifoQueue": str(queue["FifoQueue"]).lower(),
            "VisibilityTimeout": str(queue["VisibilityTimeout"]),
            "RedrivePolicy": json.dumps(
                {
                    "deadLetterTargetArn": dlq_arn,
                    "maxReceiveCount": str(queue["RedrivePolicy"]["maxReceiveCount"]),
                }
            ),
        },
    )["QueueUrl"]
    topic = template_properties("ResultsTopic")
    topic_arn = sns.create_topic(
        Name="results.fifo",
        Attributes={
            "FifoTopic": str(topic["FifoTopic"]).lower(),
            "ContentBasedDeduplication": str(topic["ContentBasedDeduplication"]).lower(),
        },
    )["TopicArn"]
    results_url = sqs.create_queue(QueueName="ResultsQueue.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    results_arn = sqs.get_queue_attributes(QueueUrl=results_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    subscription = template_properties("ResultsQueueSubscription")
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol=subscription["Protocol"],
        Endpoint=results_arn,
        Attributes={"RawMessageDelivery": str(subscription["RawMessageDelivery"]).lower()},
    )
    return JobStack(
        endpoint=os.environ["AWS_ENDPOINT_URL"],
        pacs_bucket="pacs-bucket",
        output_bucket="output-bucket",
        jobs_table="jobs-table",
        request_queue_url=request_url,
        request_dlq_url=dlq_url,
        results_topic_arn=topic_arn,
        results_queue_url=results_url,
    )


def job_message(
    algo_id: str,
    ref: InstanceRef | None = None,
    *,
    series: tuple[str, str] | None = None,
    job_id: str | None = None,
    client_id: str = "client-0001",
) -> dict[str, Any]:
    """A JobMessage body as the router sends it (scope "image" for ``ref``, "series" else)."""
    if ref is not None:
        pacs = {
            "study_id": ref.study_id,
            "series_id": ref.series_id,
            "image_id": ref.instance_id,
            "scope": "image",
        }
    else:
        assert series is not None
        pacs = {"study_id": series[0], "series_id": series[1], "scope": "series"}
    return {
        "job_id": job_id or f"job-{uuid.uuid4().hex[:16]}",
        "client_id": client_id,
        "algo_id": algo_id,
        "pacs": pacs,
        "submitted_at": "2026-01-01T00:00:00+00:00",
    }


def send_job(stack: JobStack, body: dict[str, Any], dedup_id: str | None = None) -> None:
    import boto3

    boto3.client("sqs").send_message(
        QueueUrl=stack.request_queue_url,
        MessageBody=json.dumps(body),
        MessageGroupId=body["client_id"],
        MessageDeduplicationId=dedup_id or body["job_id"],
    )


def job_item(stack: JobStack, job_id: str) -> dict[str, Any]:
    import boto3

    item: dict[str, Any] = (
        boto3.client("dynamodb")
        .get_item(TableName=stack.jobs_table, Key={"job_id": {"S": job_id}}, ConsistentRead=True)
        .get("Item", {})
    )
    return {key: next(iter(value.values())) for key, value in item.items()}


def drain(queue_url: str, wait_seconds: int = 0) -> list[dict[str, Any]]:
    """Every message now visible on a queue (deleted as read), with attributes."""
    import boto3

    sqs = boto3.client("sqs")
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_seconds if not messages else 0,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return messages
        for message in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        messages.extend(batch)


@contextmanager
def moto_server() -> Iterator[str]:
    """moto in server mode on a free loopback port (real HTTP, as the local cloud runs it)."""
    from moto.server import ThreadedMotoServer

    # One line per AWS call from werkzeug would bury every failure report.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def reset_moto(endpoint: str) -> None:
    import httpx

    httpx.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()


def seeded_job_stack(
    endpoint: str, monkeypatch: Any, algo_id: str, *, with_broken: bool = False
) -> Iterator[JobStack]:
    """A fresh moto state holding one algorithm's job stack and the seeded PACS (the body of the
    worker tests' ``stack`` fixtures), with boto3 pointed at it for the test's duration."""
    from pacs_api.seed import seed_pacs
    from pipeline_common import aws

    reset_moto(endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    aws.clear_clients()
    job_stack = create_job_stack(algo_id)
    seed_pacs(job_stack.pacs_bucket, with_broken=with_broken)
    yield job_stack
    aws.clear_clients()


def dciodvfy_errors(dataset: Any, path: Path) -> list[str]:
    """The errors Debian's DICOM validator (dciodvfy, package dicom3tools, installed by
    ``make dicom-tools``) reports on ``dataset``, written to ``path`` as a PS3.10 file."""
    import shutil
    import subprocess

    import pytest

    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy (Debian package dicom3tools) is not installed")
    dataset.save_as(path, enforce_file_format=True)
    report = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, check=False)
    return [
        line for line in (report.stdout + report.stderr).splitlines() if line.startswith("Error")
    ]
