"""The YOLO stream service with decode, inference and outputs overlapped (moto in process): stream
order per video holds, the stages' queues are bounded (a stuck upload stops decoding a few records
later), a frame whose upload or annotation fails still ends with a reason while the checkpoint
never passes an unsent frame, and a stop hands the frames in flight back to the checkpoint."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import boto3
import cv2
import numpy as np
import pytest
from botocore.exceptions import ClientError

from pipeline_common.contracts.video import (
    Box,
    Detection,
    EndOfVideoRecord,
    FrameResult,
    VideoFailed,
    VideoSummary,
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
from yolo_stream.shard_consumer import CAREFUL_RECORDS, DECODE_AHEAD, OUTPUT_DEPTH  # noqa: E402

SIZE = (320, 180)
SHARD = "shardId-000000000000"


@pytest.fixture(scope="module")
def detector():
    settings = Settings(
        stream_name="s", checkpoint_table="t", frames_bucket="bkt", results_queue_url="q",
        yolo_model=str(fall_model("best_fp16.onnx")), threads=2, img_size=320,
    )  # fmt: skip
    return load_detector(settings.detector_config())


_SERVICES: list[YoloStreamService] = []


@pytest.fixture
def queue_url(mocked_aws):
    url = create_stream_resources(1)
    try:
        yield url
    finally:
        while _SERVICES:  # a failed test's services stop while their moto is still up
            _SERVICES.pop().stop(timeout=10)


class _Instant:
    """No model: finds nothing at once (these tests are about the stages around it), or waits
    at one frame size until released."""

    model_id = "stub@overlap-tests"
    names = {0: "person"}
    backend = "stub"

    def __init__(self, hold_size: tuple[int, int] | None = None) -> None:
        self.calls = 0
        self.hold_size = hold_size
        self.holding = threading.Event()
        self.release = threading.Event()

    def detect(self, image: np.ndarray) -> DetectionRun:
        self.calls += 1
        if (image.shape[1], image.shape[0]) == self.hold_size:
            self.holding.set()
            self.release.wait(30)
        return DetectionRun(detections=[])


class _BadBoxAt:
    """The real detector, except that frames of one size get a box no drawing call accepts:
    annotating that frame fails on the output thread, as a broken detection would."""

    def __init__(self, real, size: tuple[int, int]) -> None:
        self._real, self._size = real, size
        self.model_id, self.names, self.backend = real.model_id, real.names, real.backend

    def detect(self, image: np.ndarray) -> DetectionRun:
        run = self._real.detect(image)
        if (image.shape[1], image.shape[0]) == self._size:
            box = Box(x1=1e20, y1=0, x2=2e20, y2=5)
            run.detections.append(Detection(class_id=0, class_name="x", confidence=1, box=box))
        return run


def _service(queue_url: str, detector, worker: str = "w1", **overrides) -> YoloStreamService:
    settings = Settings(
        stream_name=STREAM,
        checkpoint_table=TABLE,
        frames_bucket=BUCKET,
        results_queue_url=queue_url,
        worker_id=worker,
        poll_interval_seconds=0.05,
        shard_refresh_seconds=0.2,
        yolo_model=str(fall_model("best_fp16.onnx")),
        **{"decode_ahead": DECODE_AHEAD, **overrides},  # whatever this machine's CPU count
    )
    service = YoloStreamService(settings, detector)
    _SERVICES.append(service)
    return service


def _put_video(video: str, frames: list[np.ndarray]) -> list[str]:
    """The frames and the end marker on the stream; returns the frames' sequence numbers."""
    kinesis = boto3.client("kinesis")
    sequences = [
        kinesis.put_record(StreamName=STREAM, Data=frame_record(video, i, f), PartitionKey=video)[
            "SequenceNumber"
        ]
        for i, f in enumerate(frames)
    ]
    end = EndOfVideoRecord(video_id=video, frames_sent=len(frames), source_fps=10.0)
    kinesis.put_record(StreamName=STREAM, Data=end.model_dump_json().encode(), PartitionKey=video)
    return sequences


def _wait(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _checkpoint() -> int:
    item = boto3.client("dynamodb").get_item(
        TableName=TABLE, Key={"shard_key": {"S": f"{STREAM}:{SHARD}"}}, ConsistentRead=True
    )["Item"]
    return int(item["sequence_number"]["S"])  # moto: small integers


def _record_events(service: YoloStreamService) -> list[tuple[str, str]]:
    """("send", dedup id) per FIFO message and ("checkpoint", sequence) per checkpoint, in the
    order they happened (the real clients underneath), and ("load", thread name) per record
    loaded."""
    events: list[tuple[str, str]] = []
    processor, store = service.processor, service.store
    send, checkpoint, load = processor._sqs.send_message, store.checkpoint, processor.load

    class _Sqs:
        def send_message(self, **kwargs):
            response = send(**kwargs)
            events.append(("send", kwargs["MessageDeduplicationId"]))
            return response

        def __getattr__(self, name):
            return getattr(processor._sqs, name)

    def _checkpoint_and_log(key: str, sequence_number: str) -> None:
        checkpoint(key, sequence_number)
        events.append(("checkpoint", sequence_number))

    def _load_and_log(data: bytes, sequence_number: str):
        events.append(("load", threading.current_thread().name))
        return load(data, sequence_number)

    sqs = _Sqs()
    processor._sqs = sqs
    store.checkpoint = _checkpoint_and_log  # type: ignore[method-assign]
    processor.load = _load_and_log  # type: ignore[method-assign]
    return events


def test_stream_order_per_video_holds_with_the_stages_overlapped(queue_url, detector):
    # Given two videos' frames interleaved on one shard, more of them than the careful start
    frames = pan_zoom_frames(photo("bus.jpg"), 2 * (CAREFUL_RECORDS + 4), SIZE)
    kinesis = boto3.client("kinesis")
    for i, frame in enumerate(frames):
        video = ("vorder01", "vorder02")[i % 2]
        kinesis.put_record(
            StreamName=STREAM, Data=frame_record(video, i // 2, frame), PartitionKey=video
        )
    for video in ("vorder01", "vorder02"):
        end = EndOfVideoRecord(video_id=video, frames_sent=len(frames) // 2, source_fps=10.0)
        kinesis.put_record(
            StreamName=STREAM, Data=end.model_dump_json().encode(), PartitionKey=video
        )
    service = _service(queue_url, detector)
    events = _record_events(service)

    # When the service consumes the stream
    service.start()
    _wait(lambda: service.stats.videos_completed == 2, "both summaries")
    service.stop()

    # Then records after the careful start were decoded on the decode thread (the overlap ran),
    # and every message left in stream order: per video by frame index, the summary last
    loaders = [name for kind, name in events if kind == "load"]
    assert any(name.startswith("decode-") for name in loaders)
    sent = [dedup for kind, dedup in events if kind == "send"]
    for video in ("vorder01", "vorder02"):
        mine = [d for d in sent if d.startswith(video)]
        expected = [f"{video}:{i}" for i in range(len(frames) // 2)]
        assert mine[:-1] == expected
        assert "summary" in mine[-1]
    checkpoints = [int(seq) for kind, seq in events if kind == "checkpoint"]
    assert checkpoints == sorted(set(checkpoints))
    messages = [m for m, _ in drain_video_messages(queue_url)]
    for video in ("vorder01", "vorder02"):
        indices = [
            m.frame_index for m in messages if isinstance(m, FrameResult) and m.video_id == video
        ]
        assert indices == list(range(len(frames) // 2))


def test_a_stuck_upload_stops_inference_and_decoding_a_bounded_number_of_records_later(queue_url):
    # Given frames past the careful start, and S3 stuck on the upload of frame `stuck`
    stuck = CAREFUL_RECORDS + 1
    frames = pan_zoom_frames(photo("zidane.jpg"), stuck + 12, SIZE)
    _put_video("vbound01", frames)
    detector = _Instant()
    service = _service(queue_url, detector)
    events = _record_events(service)
    real_s3 = service.processor._s3
    unstick = threading.Event()
    stuck_key = f"frames/vbound01/{stuck:06d}.jpg"

    class _StuckS3:
        def put_object(self, **kwargs):
            if kwargs["Key"] == stuck_key:
                unstick.wait(30)
            return real_s3.put_object(**kwargs)

        def __getattr__(self, name):
            return getattr(real_s3, name)

    service.processor._s3 = _StuckS3()

    # When the service runs until the pipeline behind the stuck upload is full
    service.start()
    # the output thread holds `stuck`, OUTPUT_DEPTH frames wait for it, inference holds one more
    in_inference = stuck + OUTPUT_DEPTH + 1
    _wait(lambda: detector.calls == in_inference + 1, "the pipeline to fill")
    time.sleep(0.5)  # time to overrun the bounds, were they not enforced
    loads = sum(1 for kind, _ in events if kind == "load")

    # Then inference stopped at the full output queue and decoding DECODE_AHEAD records further
    assert detector.calls == in_inference + 1
    assert loads == in_inference + 1 + DECODE_AHEAD
    assert service.stats.frames_processed == stuck

    # When S3 recovers, then every frame goes out, once and in order
    unstick.set()
    _wait(lambda: service.stats.videos_completed == 1, "the summary")
    service.stop()
    messages = [m for m, _ in drain_video_messages(queue_url)]
    frames_out = [m.frame_index for m in messages if isinstance(m, FrameResult)]
    assert frames_out == list(range(len(frames)))


class _DeniedS3:
    """S3 refusing one key's upload for good (a fault of the record, not an outage)."""

    def __init__(self, real, key: str) -> None:
        self._real, self._key = real, key

    def put_object(self, **kwargs):
        if kwargs["Key"] == self._key:
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "denied"},
                 "ResponseMetadata": {"HTTPStatusCode": 403}},
                "PutObject",
            )  # fmt: skip
        return self._real.put_object(**kwargs)

    def __getattr__(self, name):
        return getattr(self._real, name)


@pytest.mark.parametrize("fault", ["upload", "annotate"])
def test_a_failing_output_ends_its_frame_with_a_reason_and_the_checkpoint_waits_for_it(
    queue_url, detector, fault
):
    # Given frames past the careful start, one of which (`bad`, in the overlapped path) cannot
    # be uploaded, or carries a detection that cannot be drawn
    bad = CAREFUL_RECORDS + 2
    frames = pan_zoom_frames(photo("bus.jpg"), bad + 4, SIZE)
    frames[bad] = cv2.resize(frames[bad], (SIZE[0] - 32, SIZE[1] - 18))
    sequences = _put_video("vfault01", frames)
    if fault == "annotate":
        service = _service(queue_url, _BadBoxAt(detector, frames[bad].shape[1::-1]),
                           max_record_attempts=2)  # fmt: skip
    else:
        service = _service(queue_url, detector, max_record_attempts=2)
        key = f"frames/vfault01/{bad:06d}.jpg"
        service.processor._s3 = _DeniedS3(service.processor._s3, key)
    events = _record_events(service)

    # When the service consumes the stream
    service.start()
    _wait(lambda: service.stats.videos_completed == 1, "the summary", timeout=120)
    service.stop()

    # Then the frame ended as a frame-level failure with the error as its reason, every other
    # frame has its result, and the summary counts both
    messages = [m for m, _ in drain_video_messages(queue_url)]
    (failure,) = [m for m in messages if isinstance(m, VideoFailed)]
    assert (failure.frame_index, failure.level) == (bad, "frame")
    cause = "ClientError" if fault == "upload" else "error: OpenCV"
    assert failure.reason.startswith(f"gave up after 2 attempts: {cause}")
    results = sorted(m.frame_index for m in messages if isinstance(m, FrameResult))
    assert results == [i for i in range(len(frames)) if i != bad]
    (summary,) = [m for m in messages if isinstance(m, VideoSummary)]
    assert (summary.frames, summary.frames_failed) == (len(frames) - 1, 1)
    # and the checkpoint only ever moved forward, each step after its frame's message was sent
    frame_of = {int(s): i for i, s in enumerate(sequences)}
    sent: set[str] = set()
    checkpoints = []
    for kind, value in events:
        if kind == "send":
            sent.add(value)
        elif kind == "checkpoint" and int(value) in frame_of:
            index = frame_of[int(value)]
            assert {f"vfault01:{index}", f"vfault01:failed:{index}"} & sent
            checkpoints.append(int(value))
    assert checkpoints == sorted(set(checkpoints))
    assert int(sequences[bad]) in checkpoints
    assert _checkpoint() > int(sequences[-1])


def test_a_stop_sends_the_frames_in_hand_and_hands_the_decoded_ones_back(queue_url):
    # Given frames past the careful start, and inference held on frame `held`
    held = CAREFUL_RECORDS + 1
    frames = pan_zoom_frames(photo("bus.jpg"), held + 6, SIZE)
    frames[held] = cv2.resize(frames[held], (SIZE[0] - 32, SIZE[1] - 18))
    sequences = _put_video("vstop001", frames)
    detector = _Instant(hold_size=frames[held].shape[1::-1])
    first = _service(queue_url, detector)
    events = _record_events(first)
    first.start()
    _wait(detector.holding.is_set, "inference on the held frame")
    _wait(lambda: sum(kind == "load" for kind, _ in events) == held + 1 + DECODE_AHEAD, "decoding")

    # When the service is stopped while that frame is in inference and later ones are decoded
    stopper = threading.Thread(target=first.stop)
    stopper.start()
    _wait(lambda: first._stop.is_set(), "the stop")
    detector.release.set()
    stopper.join(30)

    # Then the frame in hand was sent and checkpointed, the decoded ones were not
    assert _checkpoint() == int(sequences[held])
    assert first.stats.frames_processed == held + 1

    # When a second worker takes the shard, then it resumes right after, and every frame
    # goes out exactly once
    second = _service(queue_url, _Instant(), worker="w2")
    second.start()
    _wait(lambda: second.stats.videos_completed == 1, "the summary")
    second.stop()
    assert second.stats.frames_processed == len(frames) - held - 1
    messages = [m for m, _ in drain_video_messages(queue_url)]
    assert [m.frame_index for m in messages if isinstance(m, FrameResult)] == list(
        range(len(frames))
    )
