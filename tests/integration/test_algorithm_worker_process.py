"""The worker as its container runs it (``python -m algorithm_worker``), killed and stopped for
real: SIGKILL mid-job, SIGTERM while idle and while a job is stuck, a bad environment."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest

from tests.support.dicom_samples import (
    ROOT,
    JobStack,
    drain,
    job_item,
    job_message,
    moto_server,
    pacs_api_server,
    sample_ref,
    seeded_job_stack,
    send_job,
)

# isort: split
from algorithm_worker.algorithms import REGISTRY
from algorithm_worker.settings import WorkerSettings
from algorithm_worker.worker import Worker

ALGO = "processing_1"
WORKER_DIR = ROOT / "containers" / "algorithm_worker"


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def stack(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[JobStack]:
    yield from seeded_job_stack(moto_endpoint, monkeypatch, ALGO)


@pytest.fixture
def stuck_pacs_url() -> Iterator[str]:
    """A PACS that accepts connections and never answers: a job using it hangs mid-way."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., tuple[subprocess.Popen[bytes], Path]]]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
        log = tmp_path / f"worker-{len(processes)}.log"
        environment = {
            **os.environ,
            **env,
            "PYTHONPATH": os.pathsep.join([str(WORKER_DIR), str(ROOT / "layers" / "common")]),
            "POWERTOOLS_SERVICE_NAME": env.get("ALGO_ID", "worker"),
        }
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "algorithm_worker"],
                cwd=WORKER_DIR,
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        processes.append(process)
        return process, log

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_a_worker_killed_mid_job_is_redelivered_and_the_job_completes_once(
    stack: JobStack, stuck_pacs_url: str, spawn: Callable[..., tuple[subprocess.Popen[bytes], Path]]
) -> None:
    # Given: a worker process that took the job and is stuck in it
    body = job_message(ALGO, sample_ref("CT_small.dcm"))
    send_job(stack, body)
    doomed, _log = spawn(stack.worker_env(stuck_pacs_url, ALGO, VISIBILITY_TIMEOUT_SECONDS="6"))
    wait_for(lambda: job_item(stack, body["job_id"]).get("status") == "RUNNING", "RUNNING")
    # When: it is killed without warning, and a healthy worker polls the queue
    doomed.kill()
    doomed.wait()
    with pacs_api_server(stack.pacs_bucket) as pacs_url:
        values = stack.worker_env(pacs_url, ALGO, WAIT_TIME_SECONDS="20")
        healthy = Worker(
            WorkerSettings(**{k.lower(): v for k, v in values.items()}), REGISTRY[ALGO]
        )
        outcome = healthy.poll_once()
    # Then: the message came back once the heartbeat stopped, and the job finished exactly once
    assert outcome is not None
    assert outcome.action == "done"
    item = job_item(stack, body["job_id"])
    assert item["status"] == "DONE"
    assert item["receive_count"] == "2"
    results = drain(stack.results_queue_url)
    assert [json.loads(m["Body"])["status"] for m in results] == ["DONE"]
    assert drain(stack.request_queue_url) == []


def test_sigterm_while_idle_stops_the_worker_with_exit_0(
    stack: JobStack, spawn: Callable[..., tuple[subprocess.Popen[bytes], Path]]
) -> None:
    # Given: a worker in a 20-second long poll on an empty queue
    worker, log = spawn(stack.worker_env("http://127.0.0.1:9", ALGO, WAIT_TIME_SECONDS="20"))
    wait_for(lambda: b"worker started" in log.read_bytes(), "the worker to start")
    # When
    worker.send_signal(signal.SIGTERM)
    # Then: it stops without waiting for the poll to end
    assert worker.wait(timeout=15) == 0
    assert b"worker stopped" in log.read_bytes()


def test_sigterm_during_a_stuck_job_releases_its_message(
    stack: JobStack, stuck_pacs_url: str, spawn: Callable[..., tuple[subprocess.Popen[bytes], Path]]
) -> None:
    # Given: a worker stuck in a job, with a 1-second shutdown grace period
    body = job_message(ALGO, sample_ref("CT_small.dcm"))
    send_job(stack, body)
    worker, _log = spawn(stack.worker_env(stuck_pacs_url, ALGO, SHUTDOWN_GRACE_SECONDS="1"))
    wait_for(lambda: job_item(stack, body["job_id"]).get("status") == "RUNNING", "RUNNING")
    # When
    worker.send_signal(signal.SIGTERM)
    # Then: it exits 0 and the message is visible again at once (not after its 30 s timeout)
    assert worker.wait(timeout=30) == 0
    again = boto3.client("sqs").receive_message(QueueUrl=stack.request_queue_url, WaitTimeSeconds=5)
    assert json.loads(again["Messages"][0]["Body"])["job_id"] == body["job_id"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"ALGO_ID": "processing_9"}, b"unknown ALGO_ID 'processing_9'"),
        ({"RESULTS_TOPIC_ARN": "not-an-arn"}, b"results_topic_arn"),
    ],
)
def test_a_bad_environment_exits_2_with_a_clear_message(
    stack: JobStack,
    spawn: Callable[..., tuple[subprocess.Popen[bytes], Path]],
    override: dict[str, str],
    message: bytes,
) -> None:
    # Given
    env = stack.worker_env("http://127.0.0.1:9", ALGO)
    env.update(override)
    # When
    worker, log = spawn(env)
    # Then
    assert worker.wait(timeout=60) == 2
    assert message in log.read_bytes()


def test_two_jobs_at_once_run_side_by_side_and_a_stop_releases_both(
    stack: JobStack, stuck_pacs_url: str, spawn: Callable[..., tuple[subprocess.Popen[bytes], Path]]
) -> None:
    # Given: a worker taking two jobs at once, two jobs of two clients (two FIFO groups), and a
    # PACS that never answers
    bodies = [
        job_message(ALGO, sample_ref("CT_small.dcm"), client_id=f"client-000{n}") for n in (1, 2)
    ]
    for body in bodies:
        send_job(stack, body)
    worker, log = spawn(
        stack.worker_env(stuck_pacs_url, ALGO, JOB_CONCURRENCY="2", SHUTDOWN_GRACE_SECONDS="1")
    )
    # Then: both are RUNNING at the same time
    wait_for(
        lambda: all(job_item(stack, b["job_id"]).get("status") == "RUNNING" for b in bodies),
        "both jobs RUNNING",
    )
    # When: it is stopped
    worker.send_signal(signal.SIGTERM)
    # Then: it exits 0 and both messages are visible again at once (not after their timeout)
    assert worker.wait(timeout=30) == 0
    assert log.read_bytes().count(b"job abandoned at shutdown") == 2
    again = drain(stack.request_queue_url, wait_seconds=5)
    assert sorted(json.loads(m["Body"])["job_id"] for m in again) == sorted(
        b["job_id"] for b in bodies
    )


def test_jobs_run_side_by_side_end_done_each_with_its_own_log_keys(
    stack: JobStack, spawn: Callable[..., tuple[subprocess.Popen[bytes], Path]]
) -> None:
    # Given: a worker taking three jobs at once, and four jobs of four clients
    bodies = [
        job_message(ALGO, sample_ref("CT_small.dcm"), client_id=f"client-000{n}")
        for n in range(1, 5)
    ]
    with pacs_api_server(stack.pacs_bucket) as pacs_url:
        worker, log = spawn(stack.worker_env(pacs_url, ALGO, JOB_CONCURRENCY="3"))
        wait_for(lambda: b"worker started" in log.read_bytes(), "the worker to start")
        # When
        for body in bodies:
            send_job(stack, body)
        wait_for(
            lambda: all(job_item(stack, b["job_id"]).get("status") == "DONE" for b in bodies),
            "every job DONE",
        )
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    # Then: each result was published once, and each job's timeline line names its own job
    results = drain(stack.results_queue_url, wait_seconds=1)
    assert sorted(json.loads(m["Body"])["job_id"] for m in results) == sorted(
        b["job_id"] for b in bodies
    )
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    timelines = [line for line in lines if line.get("message") == "job timeline"]
    assert sorted(line["job_id"] for line in timelines) == sorted(b["job_id"] for b in bodies)
    # ...and no job's keys leaked onto the lines of the worker itself
    assert all("job_id" not in line for line in lines if line.get("message") == "worker stopped")
