"""Faults of the YOLO stream service against moto with the real person detector: a poison record
is given up after MAX_RECORD_ATTEMPTS (the count surviving a restart) while the frames behind it
go on; a merged shard waits for both parents and a child shard starts from its first record;
two service instances share a 4-shard stream 2/2 and a stopped one's shards move over losslessly.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

import boto3
import cv2
import numpy as np
import pytest

from pipeline_common.contracts.video import (
    EndOfVideoRecord,
    FrameResult,
    VideoFailed,
    VideoSummary,
    fifo_ids,
)
from tests.support.video_samples import fall_model, pan_zoom_frames, photo, use_container
from tests.support.video_stream import (
    BUCKET,
    STREAM,
    TABLE,
    create_stream_resources,
    drain_video_messages,
    frame_record,
)

use_container("yolo_stream")

from yolo_stream.detection import DetectionRun, load_detector  # noqa: E402
from yolo_stream.service import YoloStreamService  # noqa: E402
from yolo_stream.settings import Settings  # noqa: E402

SIZE = (320, 180)  # small frames at IMG_SIZE 320 keep the real detector quick
POISON_SIZE = (200, 112)


@pytest.fixture(scope="module")
def detector_settings():
    return {"yolo_model": str(fall_model("best_fp16.onnx")), "threads": 2, "img_size": 320}


@pytest.fixture(scope="module")
def detector(detector_settings):
    settings = Settings(
        stream_name="s", checkpoint_table="t", frames_bucket="bkt", results_queue_url="q",
        **detector_settings,
    )  # fmt: skip
    return load_detector(settings.detector_config())


# Every service a test made: the cloud fixture stops those a failed test left running.
_SERVICES: list[YoloStreamService] = []


def _cloud(shards: int):
    queue_url = create_stream_resources(shards)
    try:
        yield queue_url
    finally:
        # A test that failed half-way leaves services running: stop them while their moto
        # is still up, or their threads would take the next test's shards.
        while _SERVICES:
            _SERVICES.pop().stop(timeout=10)


@pytest.fixture
def cloud(mocked_aws: None):
    yield from _cloud(1)


@pytest.fixture
def cloud2(mocked_aws: None):
    yield from _cloud(2)


@pytest.fixture
def cloud4(mocked_aws: None):
    yield from _cloud(4)


class _PoisonDetector:
    """The real detector, except that it fails on frames of ``POISON_SIZE`` the way a model or
    an OpenCV call fails on an input it cannot handle (not a ``FrameError``)."""

    def __init__(self, real) -> None:
        self._real = real
        self.poison_calls = 0
        self.model_id = real.model_id

    def detect(self, image: np.ndarray):
        if (image.shape[1], image.shape[0]) == POISON_SIZE:
            self.poison_calls += 1
            raise ValueError("operands could not be broadcast together with shapes (1,84,0)")
        return self._real.detect(image)


class _StubDetector:
    """A detector that finds nothing, instantly: the lease tests are about shards, not pixels
    (the real model costs about 350 ms a frame on a loaded 2-core machine)."""

    model_id = "stub@lease-tests"
    names = {0: "person"}

    def detect(self, image: np.ndarray) -> DetectionRun:
        return DetectionRun(detections=[])


def _service(queue_url, detector, detector_settings, worker, **overrides) -> YoloStreamService:
    settings = Settings(
        stream_name=STREAM,
        checkpoint_table=TABLE,
        frames_bucket=BUCKET,
        results_queue_url=queue_url,
        worker_id=worker,
        **{
            "poll_interval_seconds": 0.05,
            "shard_refresh_seconds": 0.2,
            **detector_settings,
            **overrides,
        },
    )
    service = YoloStreamService(settings, detector)
    _SERVICES.append(service)
    return service


def _wait(condition: Callable[[], bool], what: str, timeout: float = 20) -> float:
    """Wait for ``condition``; returns the seconds it took."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"timed out waiting for {what}"
        time.sleep(0.02)
    return time.monotonic() - start


def _put(data: bytes, video: str, hash_key: int | None = None) -> str:
    kwargs = {"ExplicitHashKey": str(hash_key)} if hash_key is not None else {}
    response = boto3.client("kinesis").put_record(
        StreamName=STREAM, Data=data, PartitionKey=video, **kwargs
    )
    return response["SequenceNumber"]


def _put_end(video: str, frames_sent: int, hash_key: int | None = None) -> None:
    end = EndOfVideoRecord(video_id=video, frames_sent=frames_sent, source_fps=10.0)
    _put(end.model_dump_json().encode(), video, hash_key)


def _lease(shard_id: str) -> dict:
    return (
        boto3.client("dynamodb")
        .get_item(
            TableName=TABLE, Key={"shard_key": {"S": f"{STREAM}:{shard_id}"}}, ConsistentRead=True
        )
        .get("Item", {})
    )


def test_a_poison_record_is_given_up_after_n_attempts_across_a_restart(
    cloud, detector, detector_settings
):
    # Given frames 0-1, a frame the detector chokes on (2), frames 3-4 and the end marker
    video = "vpoison1"
    frames = pan_zoom_frames(photo("bus.jpg"), 5, SIZE)
    frames[2] = cv2.resize(frames[2], POISON_SIZE)
    sequences = [_put(frame_record(video, i, f), video) for i, f in enumerate(frames)]
    _put_end(video, 5)
    poison = _PoisonDetector(detector)

    # When a first worker fails on the poison record once and is stopped (a deploy, a scale-in)
    first = _service(cloud, poison, detector_settings, "w1", max_record_attempts=3)
    first.start()
    _wait(lambda: poison.poison_calls >= 1, "the first failure")
    first.stop()
    shard = "shardId-000000000000"
    item = _lease(shard)
    # Then the attempt is on record beside the checkpoint, and the frames before it are done
    assert item["failed_sequence"]["S"] == sequences[2]
    assert item["failed_attempts"]["N"] == "1"
    assert item["sequence_number"]["S"] == sequences[1]
    assert poison.poison_calls == 1

    # When a second worker takes the shard over
    second = _service(cloud, poison, detector_settings, "w2", max_record_attempts=3)
    second.start()
    _wait(lambda: second.stats.videos_completed == 1, "the summary")
    second.stop()

    # Then the record was tried exactly 3 times in all (the count survived the restart), became a
    # frame-level failure with a reason (the error's type and first line, nothing more), the
    # frames behind it were processed, and the checkpoint moved past it to the end marker
    assert poison.poison_calls == 3
    messages = [m for m, _ in drain_video_messages(cloud)]
    (failure,) = [m for m in messages if isinstance(m, VideoFailed)]
    assert (failure.video_id, failure.level, failure.frame_index) == (video, "frame", 2)
    assert failure.reason.startswith("gave up after 3 attempts: ValueError: operands could not")
    assert "Traceback" not in failure.reason
    assert "data_b64" not in failure.reason
    assert fifo_ids(failure) == (video, f"{video}:failed:2")
    assert sorted(m.frame_index for m in messages if isinstance(m, FrameResult)) == [0, 1, 3, 4]
    (summary,) = [m for m in messages if isinstance(m, VideoSummary)]
    assert (summary.frames, summary.frames_failed, summary.frames_sent) == (4, 1, 5)
    assert second.stats.frames_failed == 1
    assert int(_lease(shard)["sequence_number"]["S"]) > int(sequences[4])  # moto: small ints


def test_an_outage_does_not_use_up_a_records_attempts(cloud, detector, detector_settings):
    # Given a frame, and S3 answering 503 to its uploads five times (more than the attempts)
    video = "voutage1"
    frames = pan_zoom_frames(photo("zidane.jpg"), 1, SIZE)
    _put(frame_record(video, 0, frames[0]), video)
    service = _service(cloud, detector, detector_settings, "w1", max_record_attempts=2)
    real_s3 = service.processor._s3
    outages = []

    class _DownS3:
        def put_object(self, **kwargs):
            if len(outages) < 5:
                outages.append(kwargs["Key"])
                from botocore.exceptions import ClientError

                raise ClientError(
                    {"Error": {"Code": "ServiceUnavailable"}, "ResponseMetadata": {}}, "PutObject"
                )
            return real_s3.put_object(**kwargs)

        def __getattr__(self, name):
            return getattr(real_s3, name)

    service.processor._s3 = _DownS3()
    import yolo_stream.shard_consumer as consumer_module

    original_cap = consumer_module.MAX_BACKOFF_SECONDS
    consumer_module.MAX_BACKOFF_SECONDS = 0.5  # keep five back-offs short
    try:
        # When the service consumes the stream through the outage
        service.start()
        _wait(lambda: service.stats.frames_processed == 1, "the frame")
        service.stop()
    finally:
        consumer_module.MAX_BACKOFF_SECONDS = original_cap

    # Then the frame was processed once S3 was back, not given up
    assert len(outages) == 5
    messages = [m for m, _ in drain_video_messages(cloud)]
    assert [type(m).__name__ for m in messages] == ["FrameResult"]
    assert int(_lease("shardId-000000000000").get("failed_attempts", {}).get("N", "0")) <= 1


def test_a_merged_shard_waits_for_both_parents_and_starts_at_its_first_record(
    cloud2, detector, detector_settings
):
    # Given a 2-shard stream merged into one child: parent 0 already drained, parent 1 not yet,
    # and frames on the child (a stream read from LATEST, which a child must ignore)
    kinesis = boto3.client("kinesis")
    dynamodb = boto3.client("dynamodb")
    parents = [s["ShardId"] for s in kinesis.list_shards(StreamName=STREAM)["Shards"]]
    kinesis.merge_shards(
        StreamName=STREAM, ShardToMerge=parents[0], AdjacentShardToMerge=parents[1]
    )
    (child,) = [
        s for s in kinesis.list_shards(StreamName=STREAM)["Shards"] if s.get("ParentShardId")
    ]
    assert child["AdjacentParentShardId"] == parents[1]

    def drained(shard_id: str) -> None:
        dynamodb.put_item(
            TableName=TABLE,
            Item={"shard_key": {"S": f"{STREAM}:{shard_id}"}, "shard_end": {"BOOL": True}},
        )

    drained(parents[0])
    video = "vmerge01"
    frames = pan_zoom_frames(photo("bus.jpg"), 2, SIZE)
    # moto routes PutRecord by hash range without skipping closed shards (AWS writes to the
    # child), so the child's records are written into moto's shard directly
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.kinesis.models import kinesis_backends

    child_shard = (
        kinesis_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].streams[STREAM].shards[child["ShardId"]]
    )
    for i, frame in enumerate(frames):
        data = base64.b64encode(frame_record(video, i, frame)).decode()
        child_shard.put_record(video, data, None)
    service = _service(cloud2, detector, detector_settings, "w1", start_position="LATEST")

    # When the service runs while parent 1 is still open
    service.start()
    _wait(lambda: _lease(parents[1]).get("owner"), "parent 1 leased")
    time.sleep(1.0)  # five balancing passes

    # Then the child is not read yet (only the adjacent parent is)
    assert not _lease(child["ShardId"]), service.status()
    assert service.stats.frames_processed == 0

    # When the adjacent parent reaches SHARD_END too
    dynamodb.update_item(
        TableName=TABLE,
        Key={"shard_key": {"S": f"{STREAM}:{parents[1]}"}},
        UpdateExpression="SET shard_end = :t",
        ExpressionAttributeValues={":t": {"BOOL": True}},
    )

    # Then the child is read from its first record, although START_POSITION is LATEST
    _wait(lambda: service.stats.frames_processed == 2, "the child's frames")
    service.stop()
    results = [m for m, _ in drain_video_messages(cloud2) if isinstance(m, FrameResult)]
    assert sorted(r.frame_index for r in results) == [0, 1]


def _owners() -> dict[str, str | None]:
    shards = boto3.client("kinesis").list_shards(StreamName=STREAM)["Shards"]
    now = time.time()
    owners = {}
    for shard in shards:
        item = _lease(shard["ShardId"])
        live = float(item.get("lease_expires_at", {}).get("N", "0")) >= now
        owners[shard["ShardId"]] = item.get("owner", {}).get("S") if live else None
    return owners


def _record_releases(service: YoloStreamService) -> list[str]:
    """The shard ids ``service`` gives back (rebalance or stop), in order."""
    released: list[str] = []
    release = service.store.release

    def recording(key: str) -> None:
        release(key)
        released.append(key.rsplit(":", 1)[1])

    service.store.release = recording  # type: ignore[method-assign]
    return released


def _split(owners: dict[str, str | None], *workers: str) -> list[int]:
    return [sum(1 for o in owners.values() if o == w) for w in workers]


def test_two_instances_split_four_shards_and_a_stopped_ones_shards_move_over(
    cloud4, detector_settings
):
    # Given a 4-shard stream with two videos per shard (explicit hash keys) and a feeder that
    # keeps adding frames while the workers come and go
    step = 2**128 // 4
    videos = {f"vlease{i:02d}": step * (i % 4) + 1 for i in range(8)}
    frames = pan_zoom_frames(photo("bus.jpg"), 2, SIZE)
    sent: dict[str, int] = dict.fromkeys(videos, 0)

    def feed(rounds: int) -> None:
        for _ in range(rounds):
            for video, hash_key in videos.items():
                _put(frame_record(video, sent[video], frames[sent[video] % 2]), video, hash_key)
                sent[video] += 1

    common = {"lease_seconds": 1.5, "shard_refresh_seconds": 5.0}
    feed(2)
    a = _service(cloud4, _StubDetector(), detector_settings, "worker-a", **common)
    released_by_a = _record_releases(a)
    a.start()
    _wait(lambda: _split(_owners(), "worker-a") == [4], "worker a on all 4 shards")

    # When a second instance starts
    b = _service(cloud4, _StubDetector(), detector_settings, "worker-b", **common)
    b.start()
    split_s = _wait(lambda: _split(_owners(), "worker-a", "worker-b") == [2, 2], "a 2/2 split")
    feed(2)

    # Then the shards are split 2/2 by a hand-over, not by waiting for leases to expire: the two
    # shards b holds are the two a gave back (a keeps renewing, so nothing of a's expires)
    owners = _owners()
    assert set(released_by_a) == {s for s, o in owners.items() if o == "worker-b"}

    # When one instance stops (SIGTERM path: it finishes its frames and releases its leases)
    a.stop()
    assert set(released_by_a) == set(owners)  # every lease a held, given back at stop
    takeover_s = _wait(lambda: _split(_owners(), "worker-b") == [4], "b on all 4 shards")
    feed(2)
    total = sum(sent.values())
    _wait(
        lambda: a.stats.frames_processed + b.stats.frames_processed >= total,
        "every frame",
        timeout=30,
    )
    b.stop()

    # Then every frame's result was delivered exactly once, in order per video
    messages = drain_video_messages(cloud4)
    results = [(m, attrs) for m, attrs in messages if isinstance(m, FrameResult)]
    delivered = [attrs["MessageDeduplicationId"] for _, attrs in results]
    expected = {f"{v}:{i}" for v, n in sent.items() for i in range(n)}
    assert set(delivered) == expected
    assert len(delivered) == len(expected)
    for video in videos:
        indices = [m.frame_index for m, _ in results if m.video_id == video]
        assert indices == sorted(indices)
    # and a graceful hand-over repeats nothing: one processing per frame across both workers
    assert a.stats.frames_processed + b.stats.frames_processed == total
    # (how fast is the bench's business, not a test's: printed only)
    print(f"\nin-process: 2/2 split after {split_s:.2f}s, takeover after stop {takeover_s:.2f}s")


def test_three_instances_on_four_shards_settle_without_flapping(cloud4, detector_settings):
    # Given three instances starting one after the other on a 4-shard stream
    common = {"lease_seconds": 1.5, "shard_refresh_seconds": 5.0}
    workers = ["worker-a", "worker-b", "worker-c"]
    services = []
    for worker in workers:
        services.append(_service(cloud4, _StubDetector(), detector_settings, worker, **common))
        services[-1].start()
        time.sleep(0.3)

    def balanced() -> bool:
        split = _split(_owners(), *workers)
        return sum(split) == 4 and max(split) <= 2

    # When they have had time to balance: every shard held, nobody over ceil(4 / 3) = 2 (2 + 2 + 0
    # or 2 + 1 + 1, depending on who was first to take what the first worker gave back)
    _wait(balanced, "every shard held, at most two per worker")

    # Then the split holds: 2 is everyone's share, so nobody gives back or steals (the KCL's
    # behaviour too) and the leases keep their owners over two lease periods
    settled = _owners()
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        assert _owners() == settled
        time.sleep(0.1)
    for service in services:
        service.stop()
    assert all(owner is None for owner in _owners().values())  # all released at stop
