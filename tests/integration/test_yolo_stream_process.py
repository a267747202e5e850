"""The YOLO stream service as its container runs it (``python -m yolo_stream``'s ``main``), as
real processes against moto in server mode, killed for real: two processes split a 4-shard stream
2/2 and a SIGKILLed one's shards move to the other with no frame lost; a record that kills the
process every time is given up after MAX_RECORD_ATTEMPTS restarts.

The detector is a stub that finds nothing (the real model costs about 350 ms a frame on a loaded
2-core machine; these tests are about leases and checkpoints, not pixels); it is swapped in by a
launcher around the real entry point, which also lets a test make one frame kill the process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import cv2
import pytest

from pipeline_common import aws
from pipeline_common.contracts.video import (
    EndOfVideoRecord,
    FrameResult,
    VideoFailed,
    VideoSummary,
    fifo_ids,
)
from tests.support.dicom_samples import moto_server, reset_moto
from tests.support.video_samples import ROOT, pan_zoom_frames, photo
from tests.support.video_stream import (
    BUCKET,
    STREAM,
    TABLE,
    create_stream_resources,
    drain_video_messages,
    frame_record,
)

SIZE = (160, 90)
POISON_WIDTH = 200

LAUNCHER = """
import os, signal, sys
import yolo_stream.__main__ as entry
from yolo_stream.detection import DetectionRun

class StubDetector:
    model_id = "stub@process-tests"
    names = {0: "person"}
    backend = "stub"  # the Detector protocol's: the service reports (and logs) what runs

    def detect(self, image):
        if image.shape[1] == int(os.environ.get("TEST_KILL_ON_WIDTH") or 0):
            os.kill(os.getpid(), signal.SIGKILL)  # as a native crash or the OOM killer would
        return DetectionRun(detections=[])

entry.load_detector = lambda config: StubDetector()
sys.exit(entry.main())
"""


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def stack(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    reset_moto(endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    aws.clear_clients()
    yield {"endpoint": endpoint}
    aws.clear_clients()


@pytest.fixture
def spawn(
    tmp_path: Path, endpoint: str
) -> Iterator[Callable[..., tuple[subprocess.Popen[bytes], Path]]]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(queue_url: str, **env: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = tmp_path / f"yolo-{len(processes)}.log"
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                [str(ROOT / "containers" / "yolo_stream"), str(ROOT / "layers" / "common")]
            ),
            "AWS_ENDPOINT_URL": endpoint,
            "STREAM_NAME": STREAM,
            "CHECKPOINT_TABLE": TABLE,
            "FRAMES_BUCKET": BUCKET,
            "RESULTS_QUEUE_URL": queue_url,
            "YOLO_MODEL": "stub.onnx",
            "POLL_INTERVAL_SECONDS": "0.05",
            "SHARD_REFRESH_SECONDS": "5",
            "PORT": "0",
            "POWERTOOLS_SERVICE_NAME": "yolo-stream",
            **env,
        }
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-c", LAUNCHER],
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


def _given_back(log: Path) -> set[str]:
    """The shard ids a worker's log says it gave back to balance the leases."""
    lines = (json.loads(line) for line in log.read_text().splitlines() if line.startswith("{"))
    return {e["shard_id"] for e in lines if e.get("message") == "giving a shard lease back"}


def _wait(condition: Callable[[], object], what: str, timeout: float = 20) -> float:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"timed out waiting for {what}"
        time.sleep(0.05)
    return time.monotonic() - start


def _owners(shard_ids: list[str]) -> dict[str, str | None]:
    dynamodb = boto3.client("dynamodb")
    now = time.time()
    owners = {}
    for shard_id in shard_ids:
        item = dynamodb.get_item(
            TableName=TABLE, Key={"shard_key": {"S": f"{STREAM}:{shard_id}"}}, ConsistentRead=True
        ).get("Item", {})
        live = float(item.get("lease_expires_at", {}).get("N", "0")) >= now
        owners[shard_id] = item.get("owner", {}).get("S") if live else None
    return owners


def _counts(owners: dict[str, str | None], *workers: str) -> list[int]:
    return [sum(1 for o in owners.values() if o == w) for w in workers]


def _registered(worker: str) -> bool:
    item = (
        boto3.client("dynamodb")
        .get_item(TableName=TABLE, Key={"shard_key": {"S": f"{STREAM}:__workers__"}})
        .get("Item", {})
    )
    return f"worker:{worker}" in item


def _processing_counts() -> Counter[str]:
    """How often each frame's detections JSON was written (S3 object versions)."""
    s3 = boto3.client("s3")
    counts: Counter[str] = Counter()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET, Prefix="frames/"):
        for version in page.get("Versions", []):
            if version["Key"].endswith(".json"):
                counts[version["Key"]] += 1
    return counts


def test_two_processes_split_four_shards_and_a_killed_ones_shards_move_over(stack, spawn):
    # Given a 4-shard stream, two videos per shard, and a feeder adding a frame per video every
    # 0.4 s for the whole test, while the workers come and go
    queue_url = create_stream_resources(4, versioned_bucket=True)
    shard_ids = [
        s["ShardId"] for s in boto3.client("kinesis").list_shards(StreamName=STREAM)["Shards"]
    ]
    step = 2**128 // 4
    videos = {f"vproc{i:03d}": step * (i % 4) + 1 for i in range(8)}
    shard_of = {v: shard_ids[i % 4] for i, v in enumerate(videos)}
    image = pan_zoom_frames(photo("bus.jpg"), 1, SIZE)[0]
    sent = dict.fromkeys(videos, 0)
    feeding = threading.Event()
    feeding.set()
    kinesis = boto3.client("kinesis")

    def feed() -> None:
        while feeding.is_set():
            for video, hash_key in videos.items():
                kinesis.put_record(
                    StreamName=STREAM,
                    Data=frame_record(video, sent[video], image),
                    PartitionKey=video,
                    ExplicitHashKey=str(hash_key),
                )
                sent[video] += 1
            time.sleep(0.4)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    lease = 4.0  # passes every lease/3; moto over HTTP on a loaded 2-core box adds ~1 s
    env = {"LEASE_SECONDS": str(lease)}
    a, a_log = spawn(queue_url, WORKER_ID="worker-a", **env)
    _wait(lambda: _counts(_owners(shard_ids), "worker-a") == [4], "worker a on all 4 shards")

    # When a second process starts
    b_started = time.monotonic()
    b, b_log = spawn(queue_url, WORKER_ID="worker-b", **env)
    _wait(lambda: _registered("worker-b"), "worker b's first heartbeat")
    b_joined = time.monotonic()
    _wait(
        lambda: _counts(_owners(shard_ids), "worker-a", "worker-b") == [2, 2],
        "a 2/2 split",
    )
    split_s = time.monotonic() - b_joined
    split_from_spawn_s = time.monotonic() - b_started
    time.sleep(1.0)  # both work for a while

    # Then the shards are split 2/2 by a hand-over, not by leases expiring: the shards b holds
    # are the ones a logged giving back (a keeps renewing the rest)
    owners = _owners(shard_ids)
    assert _given_back(a_log) == {s for s, o in owners.items() if o == "worker-b"}
    a_shards = {s for s, o in owners.items() if o == "worker-a"}

    # When worker a is SIGKILLed mid-stream
    a.send_signal(signal.SIGKILL)
    a.wait()
    killed = time.monotonic()
    _wait(lambda: _counts(_owners(shard_ids), "worker-b") == [4], "b on all 4 shards")
    takeover_s = time.monotonic() - killed
    time.sleep(1.0)
    feeding.clear()
    feeder.join()
    total = sum(sent.values())

    # Then every frame fed before, during and after the kill gets its result
    def all_processed() -> bool:
        return len(_processing_counts()) == total

    catch_up_s = _wait(all_processed, "every frame's result", timeout=30)
    b.send_signal(signal.SIGTERM)
    assert b.wait(timeout=20) == 0, b_log.read_text()[-2000:]

    messages = drain_video_messages(queue_url)
    results = [(m, attrs) for m, attrs in messages if isinstance(m, FrameResult)]
    expected = {f"{v}:{i}" for v, n in sent.items() for i in range(n)}
    delivered = [attrs["MessageDeduplicationId"] for _, attrs in results]
    # nothing lost, and the queue delivered each frame once
    assert set(delivered) == expected
    assert len(delivered) == len(expected)
    for video in videos:
        indices = [m.frame_index for m, _ in results if m.video_id == video]
        assert indices == sorted(indices), f"{video} out of order"
    # frames processed twice are only the killed worker's in-flight ones, and each repeat
    # carried the same deduplication id as the first send (which is why SQS dropped it)
    counts = _processing_counts()
    repeated = {key: n for key, n in counts.items() if n > 1}
    s3 = boto3.client("s3")
    for key in repeated:
        versions = s3.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"]
        ids = {
            fifo_ids(
                FrameResult.model_validate(
                    json.loads(
                        s3.get_object(Bucket=BUCKET, Key=key, VersionId=v["VersionId"])[
                            "Body"
                        ].read()
                    )
                )
            )
            for v in versions
        }
        assert len(ids) == 1, (key, ids)
        video = key.split("/")[1]
        assert shard_of[video] in a_shards, f"{key} repeated on a shard a never held"
    assert len(repeated) <= 4 * len(a_shards)  # at most the records in flight per shard
    print(
        f"\nprocesses: frames {total}; 2/2 split {split_s:.2f}s after b's first heartbeat "
        f"({split_from_spawn_s:.2f}s after spawn); SIGKILL takeover {takeover_s:.2f}s "
        f"(lease {lease}s); caught up {catch_up_s:.2f}s later; frames processed twice "
        f"{len(repeated)}, delivered twice 0"
    )
    assert "record given up" not in a_log.read_text() + b_log.read_text()


def test_a_record_that_kills_the_process_is_given_up_after_n_restarts(stack, spawn):
    # Given frames 0-4 of a video, where frame 2 kills the process whenever it is processed
    queue_url = create_stream_resources(1, versioned_bucket=True)
    video = "vcrash01"
    kinesis = boto3.client("kinesis")
    images = pan_zoom_frames(photo("zidane.jpg"), 5, SIZE)
    images[2] = cv2.resize(images[2], (POISON_WIDTH, 112))
    for i, image in enumerate(images):
        kinesis.put_record(
            StreamName=STREAM, Data=frame_record(video, i, image), PartitionKey=video
        )
    end = EndOfVideoRecord(video_id=video, frames_sent=5, source_fps=10.0)
    kinesis.put_record(StreamName=STREAM, Data=end.model_dump_json().encode(), PartitionKey=video)
    env = {
        "LEASE_SECONDS": "1",
        "MAX_RECORD_ATTEMPTS": "3",
        "TEST_KILL_ON_WIDTH": str(POISON_WIDTH),
    }

    # When the service is restarted after each crash, as ECS replaces a task that died (each
    # task a new owner, waiting for the dead one's lease to expire)
    crashes = 0
    summary_seen = False
    for _ in range(6):
        process, log = spawn(queue_url, **env)
        deadline = time.monotonic() + 20
        while process.poll() is None and time.monotonic() < deadline:
            if "video done" in log.read_text():
                summary_seen = True
                break
            time.sleep(0.1)
        if summary_seen:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0
            break
        assert process.returncode == -signal.SIGKILL, log.read_text()[-2000:]
        crashes += 1

    # Then it crashed on the record exactly 3 times, the next start gave the record up as a
    # frame-level failure, and the frames behind it and the summary followed
    assert summary_seen
    assert crashes == 3
    messages = [m for m, _ in drain_video_messages(queue_url)]
    (failure,) = [m for m in messages if isinstance(m, VideoFailed)]
    assert (failure.frame_index, failure.level) == (2, "frame")
    assert failure.reason.startswith("gave up after 3 attempts: processing never completed")
    assert sorted(m.frame_index for m in messages if isinstance(m, FrameResult)) == [0, 1, 3, 4]
    (summary,) = [m for m in messages if isinstance(m, VideoSummary)]
    assert (summary.frames, summary.frames_failed) == (4, 1)
