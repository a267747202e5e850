"""The extractor's one job: S3 object -> sampled JPEG frames on Kinesis -> end-of-video marker.

A rejected input ends with exactly one video-level ``video.failed`` message and exit code 2; the
input object is left untouched. A re-run (state machine retry) re-sends the same records, which the
YOLO service turns into the same S3 keys and FIFO deduplication ids: harmless.
"""

from __future__ import annotations

import base64
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from botocore.exceptions import ClientError

from frame_extractor.errors import (
    EmptyVideo,
    InputMissing,
    InputRejected,
    TruncatedVideo,
    UndecodableVideo,
    UnsupportedExtension,
)
from frame_extractor.kinesis_writer import KinesisBatchWriter
from frame_extractor.sampling import FrameSampler
from frame_extractor.settings import Settings
from frame_extractor.video_decoder import SampledFrame, VideoDecoder
from pipeline_common.aws import error_code
from pipeline_common.contracts.common import S3Location, utc_now
from pipeline_common.contracts.video import (
    VIDEO_EXTENSIONS,
    EndOfVideoRecord,
    FrameRecord,
    VideoFailed,
    fifo_ids,
    oversize_frame_key,
)
from pipeline_common.observability import logger
from pipeline_common.s3_objects import is_unreadable


@dataclass
class IngestReport:
    frames_sent: int = 0
    frames_oversize: int = 0
    frames_decoded: int = 0
    total_frames: int | None = None
    source_fps: float | None = None
    kinesis_retries: int = 0
    seconds: float = 0.0
    rejected: str | None = None


class FrameIngest:
    def __init__(self, settings: Settings, *, s3: Any, kinesis: Any, sqs: Any) -> None:
        self.settings = settings
        self._s3 = s3
        self._sqs = sqs
        self._writer = KinesisBatchWriter(kinesis, settings.stream_name)
        self._source = S3Location(
            bucket=settings.input_bucket,
            key=settings.input_key,
            version_id=settings.input_version_id,
        )

    def run(self) -> IngestReport:
        report = IngestReport()
        started = time.perf_counter()
        try:
            self._ingest(report)
        except InputRejected as exc:
            report.rejected = str(exc)
            self._send_failure(str(exc))
            raise
        finally:
            report.kinesis_retries = self._writer.retries
            report.seconds = round(time.perf_counter() - started, 3)
            logger.info(
                "ingest finished", extra={"video_id": self.settings.video_id, **report.__dict__}
            )
        return report

    def _ingest(self, report: IngestReport) -> None:
        extension = PurePosixPath(self.settings.input_key).suffix.lower()
        if extension not in VIDEO_EXTENSIONS:
            raise UnsupportedExtension(
                f"unsupported extension {extension or '(none)'!r}; expected one of "
                f"{', '.join(sorted(VIDEO_EXTENSIONS))}"
            )
        with tempfile.TemporaryDirectory(prefix="frames-") as tmp:
            path = self._download(Path(tmp) / f"input{extension}")
            decoder = VideoDecoder(path)
            report.total_frames = decoder.info.total_frames
            report.source_fps = decoder.info.fps
            sampler = FrameSampler(
                every_n=self.settings.sample_every_n,
                target_fps=self.settings.target_fps,
                source_fps=decoder.info.fps,
            )
            last_index = None
            for frame in decoder.sample(
                sampler,
                jpeg_quality=self.settings.jpeg_quality,
                max_frames=self.settings.max_frames,
            ):
                self._put_frame(frame, decoder.info.total_frames, report)
                last_index = frame.index
            self._writer.flush()
            report.frames_decoded = decoder.frames_decoded
            if report.frames_sent == 0:
                raise UndecodableVideo(
                    f"corrupt {decoder.info.container} video: no frame could be decoded"
                )
            end = EndOfVideoRecord(
                video_id=self.settings.video_id,
                frames_sent=report.frames_sent,
                last_frame_index=last_index,
                total_frames=decoder.info.total_frames,
                source_fps=decoder.info.fps,
                correlation_id=self.settings.correlation_id,
            )
            self._writer.add(end.model_dump_json().encode(), self.settings.video_id)
            self._writer.flush()
            if decoder.truncated():
                raise TruncatedVideo(
                    f"truncated or corrupt video: decoded {decoder.frames_decoded} of "
                    f"{decoder.info.total_frames} frames; the {report.frames_sent} sampled "
                    "frames before the damage were sent"
                )

    def _download(self, path: Path) -> Path:
        extra = (
            {"VersionId": self.settings.input_version_id}
            if self.settings.input_version_id
            else None
        )
        try:
            self._s3.download_file(
                self.settings.input_bucket, self.settings.input_key, str(path), ExtraArgs=extra
            )
        except ClientError as exc:
            if is_unreadable(exc):
                code = error_code(exc)
                raise InputMissing(f"{self._source.uri} cannot be read ({code})") from exc
            raise
        if path.stat().st_size == 0:
            raise EmptyVideo(f"{self._source.uri} is empty (0 bytes)")
        return path

    def _put_frame(
        self, frame: SampledFrame, total_frames: int | None, report: IngestReport
    ) -> None:
        settings = self.settings
        fields = {
            "video_id": settings.video_id,
            "frame_index": frame.index,
            "timestamp_ms": frame.timestamp_ms,
            "total_frames": total_frames,
            "width": frame.width,
            "height": frame.height,
            "correlation_id": settings.correlation_id,
        }
        data = (
            FrameRecord(**fields, data_b64=base64.b64encode(frame.jpeg).decode())
            .model_dump_json()
            .encode()
        )
        if len(data) + len(settings.video_id.encode()) > settings.max_record_bytes:
            key = oversize_frame_key(settings.video_id, frame.index)
            self._s3.put_object(
                Bucket=settings.frames_bucket, Key=key, Body=frame.jpeg, ContentType="image/jpeg"
            )
            data = (
                FrameRecord(**fields, s3=S3Location(bucket=settings.frames_bucket, key=key))
                .model_dump_json()
                .encode()
            )
            report.frames_oversize += 1
        self._writer.add(data, settings.video_id)
        report.frames_sent += 1

    def _send_failure(self, reason: str) -> None:
        failure = VideoFailed(
            video_id=self.settings.video_id,
            level="video",
            reason=reason,
            source=self._source,
            failed_at=utc_now(),
            correlation_id=self.settings.correlation_id,
        )
        group, dedup = fifo_ids(failure)
        self._sqs.send_message(
            QueueUrl=self.settings.results_queue_url,
            MessageBody=failure.model_dump_json(),
            MessageGroupId=group,
            MessageDeduplicationId=dedup,
        )
        logger.warning(
            "video rejected", extra={"video_id": self.settings.video_id, "reason": reason}
        )
