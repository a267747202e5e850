"""One Kinesis record in, its results out: annotated JPEG + detections JSON in S3 and one FIFO
message. Bad records become frame-level ``video.failed`` messages instead of exceptions; any other
error propagates and the consumer retries the record, giving it up (``abandon``, again a
frame-level ``video.failed``) after ``MAX_RECORD_ATTEMPTS`` unless the error is an outage."""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np
from botocore.exceptions import ClientError
from pydantic import ValidationError

from pipeline_common.aws import error_code
from pipeline_common.contracts.common import S3Location, utc_now
from pipeline_common.contracts.video import (
    UNKNOWN_VIDEO_ID,
    VIDEO_ID_PATTERN,
    Detection,
    EndOfVideoRecord,
    FrameOutputs,
    FrameRecord,
    FrameResult,
    VideoFailed,
    VideoSummary,
    fifo_ids,
    frame_output_keys,
    parse_stream_record,
)
from pipeline_common.observability import logger
from pipeline_common.s3_objects import is_unreadable
from yolo_stream.detection import Detector
from yolo_stream.detection.annotate import annotate
from yolo_stream.errors import (
    BadRecordError,
    FrameDecodeError,
    FrameError,
    FrameMissingError,
    RecordAbandonedError,
    failure_reason,
)
from yolo_stream.video_tracker import VideoTracker

VideoMessage = FrameResult | VideoSummary | VideoFailed


@dataclass(frozen=True)
class Prepared:
    """A record after the compute half: a frame with its detections, an end marker, or the
    failure to report."""

    record: FrameRecord | EndOfVideoRecord | None = None
    image: np.ndarray | None = None
    detections: list[Detection] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    failure: VideoFailed | None = None


@dataclass(frozen=True)
class Outcome:
    kind: str  # "frame" | "failed" | "summary"
    video_id: str
    message: VideoMessage


class FrameProcessor:
    def __init__(
        self,
        *,
        detector: Detector,
        s3: Any,
        sqs: Any,
        frames_bucket: str,
        results_queue_url: str,
        jpeg_quality: int = 85,
    ) -> None:
        self._detector = detector
        self._s3 = s3
        self._sqs = sqs
        self._bucket = frames_bucket
        self._queue_url = results_queue_url
        self._jpeg_params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
        self.tracker = VideoTracker(s3, frames_bucket, detector.model_id)

    def handle(self, data: bytes, sequence_number: str) -> Outcome:
        """Process one record and send its message; returns what was sent."""
        return self.finish(self.prepare(data, sequence_number))

    def prepare(self, data: bytes, sequence_number: str) -> Prepared:
        """The compute half: parse, fetch, decode, detect. Sends nothing, so the consumer can
        run it for the next frame while ``finish`` uploads the previous one."""
        return self.detect(self.load(data, sequence_number))

    def load(self, data: bytes, sequence_number: str) -> Prepared:
        """Parse, fetch and decode: everything before inference, so the consumer can run it for
        the next frames while the model works on this one. A bad record becomes its failure."""
        try:
            record = self._parse(data)
            if isinstance(record, EndOfVideoRecord):
                return Prepared(record=record)
            t0 = time.perf_counter()
            jpeg = self._frame_bytes(record)
            t1 = time.perf_counter()
            image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            if image is None:
                raise FrameDecodeError(f"frame {record.frame_index} is not a decodable JPEG")
            timings = {"fetch": (t1 - t0) * 1e3, "decode": (time.perf_counter() - t1) * 1e3}
            return Prepared(record=record, image=image, timings=timings)
        except FrameError as exc:
            return Prepared(failure=self._failure(exc, data, sequence_number))

    def detect(self, loaded: Prepared) -> Prepared:
        """Inference on a loaded frame; an end marker or a failure passes through as it is."""
        if loaded.image is None:
            return loaded
        t0 = time.perf_counter()
        run = self._detector.detect(loaded.image)
        timings = {**loaded.timings, "detect": (time.perf_counter() - t0) * 1e3}
        timings.update({f"model_{k}": v for k, v in run.timings_ms.items()})
        return replace(loaded, detections=run.detections, timings=timings)

    def abandon(self, data: bytes, sequence_number: str, reason: str) -> Prepared:
        """A record given up after repeated failures, as the frame-level failure to publish
        (``finish`` sends it like any rejected frame)."""
        exc = RecordAbandonedError(reason)
        return Prepared(failure=self._failure(exc, data, sequence_number))

    def finish(self, prepared: Prepared) -> Outcome:
        """The output half, called in stream order: S3 outputs, the FIFO message, the tracker."""
        if prepared.failure is not None:
            failure = prepared.failure
            if failure.frame_index is not None:
                self.tracker.frame_failed(failure.video_id, failure.frame_index)
            self.publish(failure)
            logger.warning(
                "frame rejected",
                extra={
                    "video_id": failure.video_id,
                    "frame_index": failure.frame_index,
                    "reason": failure.reason,
                },
            )
            return Outcome("failed", failure.video_id, failure)
        if isinstance(prepared.record, EndOfVideoRecord):
            summary = self.tracker.summarize(prepared.record)
            self.publish(summary)
            logger.info(
                "video done", extra={"video_id": summary.video_id, "frames": summary.frames}
            )
            return Outcome("summary", summary.video_id, summary)
        result = self._write_outputs(prepared)
        self.publish(result)
        self.tracker.frame_done(result)
        return Outcome("frame", result.video_id, result)

    def publish(self, message: VideoMessage) -> None:
        group, dedup = fifo_ids(message)
        self._sqs.send_message(
            QueueUrl=self._queue_url,
            MessageBody=message.model_dump_json(),
            MessageGroupId=group,
            MessageDeduplicationId=dedup,
        )

    @staticmethod
    def _parse(data: bytes) -> FrameRecord | EndOfVideoRecord:
        try:
            return parse_stream_record(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "record"
            raise BadRecordError(f"invalid frame record ({where}: {first['msg']})") from exc

    def _write_outputs(self, prepared: Prepared) -> FrameResult:
        record, image = prepared.record, prepared.image
        if not isinstance(record, FrameRecord) or image is None:
            raise TypeError("only a decoded frame record has outputs to write")
        timings = dict(prepared.timings)
        t0 = time.perf_counter()
        ok, annotated = cv2.imencode(
            ".jpg", annotate(image, prepared.detections), self._jpeg_params
        )
        if not ok:  # pragma: no cover - imencode fails only on invalid arrays
            raise RuntimeError(f"frame {record.frame_index} could not be re-encoded")
        t1 = time.perf_counter()
        jpg_key, json_key = frame_output_keys(record.video_id, record.frame_index)
        self._s3.put_object(
            Bucket=self._bucket, Key=jpg_key, Body=annotated.tobytes(), ContentType="image/jpeg"
        )
        timings.update(annotate=(t1 - t0) * 1e3, upload=(time.perf_counter() - t1) * 1e3)
        result = FrameResult(
            video_id=record.video_id,
            frame_index=record.frame_index,
            timestamp_ms=record.timestamp_ms,
            total_frames=record.total_frames,
            width=image.shape[1],
            height=image.shape[0],
            outputs=FrameOutputs(
                annotated=S3Location(bucket=self._bucket, key=jpg_key),
                detections=S3Location(bucket=self._bucket, key=json_key),
            ),
            detections=prepared.detections,
            model=self._detector.model_id,
            backend=getattr(self._detector, "backend", None),
            timings_ms={k: round(v, 3) for k, v in timings.items()},
            processed_at=utc_now(),
            correlation_id=record.correlation_id,
        )
        # The JSON is the full result, so a summary can be rebuilt from S3 after a restart.
        self._s3.put_object(
            Bucket=self._bucket,
            Key=json_key,
            Body=result.model_dump_json().encode(),
            ContentType="application/json",
        )
        return result

    def _frame_bytes(self, record: FrameRecord) -> bytes:
        if record.data_b64 is not None:
            try:
                return base64.b64decode(record.data_b64, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise BadRecordError(f"frame {record.frame_index}: data_b64 is not base64") from exc
        if record.s3 is None:  # the contract requires data_b64 or s3; checked again here
            raise BadRecordError(f"frame {record.frame_index}: neither data_b64 nor s3")
        try:
            kwargs = {"Bucket": record.s3.bucket, "Key": record.s3.key}
            if record.s3.version_id:
                kwargs["VersionId"] = record.s3.version_id
            return self._s3.get_object(**kwargs)["Body"].read()
        except ClientError as exc:
            if is_unreadable(exc):
                raise FrameMissingError(
                    f"frame {record.frame_index}: {record.s3.uri} cannot be read "
                    f"({error_code(exc)})"
                ) from exc
            raise

    def _failure(self, exc: FrameError, data: bytes, sequence_number: str) -> VideoFailed:
        video_id, frame_index = _loose_identity(data)
        return VideoFailed(
            video_id=video_id or UNKNOWN_VIDEO_ID,
            level="frame",
            frame_index=frame_index,
            sequence_number=None if frame_index is not None else sequence_number,
            reason=failure_reason(exc),
            failed_at=utc_now(),
        )


def _loose_identity(data: bytes) -> tuple[str | None, int | None]:
    """Best effort video id and frame index of a record that failed validation, so the failure
    lands in the right FIFO group and the right video's count."""
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None, None
    if not isinstance(raw, dict):
        return None, None
    video_id = raw.get("video_id")
    frame_index = raw.get("frame_index")
    if not isinstance(video_id, str) or not re.fullmatch(VIDEO_ID_PATTERN, video_id):
        video_id = None
    if not isinstance(frame_index, int) or isinstance(frame_index, bool) or frame_index < 0:
        frame_index = None
    return video_id, frame_index
