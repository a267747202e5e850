"""Per-video aggregation for the end-of-video summary.

The fast path keeps each frame's class counts in memory. After a restart the memory is partial,
so the summary is rebuilt from the per-frame detections JSON already in S3: either way every
frame is counted once, however often it was redelivered.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipeline_common.contracts.common import utc_now
from pipeline_common.contracts.video import EndOfVideoRecord, FrameResult, VideoSummary


@dataclass
class _FrameStats:
    class_counts: Counter[str]
    processed_at: datetime


@dataclass
class _VideoState:
    frames: dict[int, _FrameStats] = field(default_factory=dict)
    failed: set[int] = field(default_factory=set)


class VideoTracker:
    def __init__(self, s3: Any, frames_bucket: str, model_id: str) -> None:
        self._s3 = s3
        self._bucket = frames_bucket
        self._model_id = model_id
        self._videos: dict[str, _VideoState] = {}
        self._lock = threading.Lock()

    def frame_done(self, result: FrameResult) -> None:
        counts = Counter(d.class_name for d in result.detections)
        with self._lock:
            state = self._videos.setdefault(result.video_id, _VideoState())
            state.frames[result.frame_index] = _FrameStats(counts, result.processed_at)
            state.failed.discard(result.frame_index)

    def frame_failed(self, video_id: str, frame_index: int) -> None:
        with self._lock:
            state = self._videos.setdefault(video_id, _VideoState())
            if frame_index not in state.frames:
                state.failed.add(frame_index)

    def summarize(self, end: EndOfVideoRecord) -> VideoSummary:
        with self._lock:
            state = self._videos.pop(end.video_id, _VideoState())
        frames = state.frames
        if len(frames) + len(state.failed) < end.frames_sent:
            frames = self._frames_from_s3(end.video_id)  # this process did not see them all
        totals: Counter[str] = Counter()
        for stats in frames.values():
            totals.update(stats.class_counts)
        return VideoSummary(
            video_id=end.video_id,
            frames=len(frames),
            frames_failed=max(end.frames_sent - len(frames), 0),
            frames_sent=end.frames_sent,
            total_frames=end.total_frames,
            class_counts=dict(sorted(totals.items())),
            detections=sum(totals.values()),
            source_fps=end.source_fps,
            processing_fps=_fps([s.processed_at for s in frames.values()]),
            model=self._model_id,
            completed_at=utc_now(),
            correlation_id=end.correlation_id,
        )

    def _frames_from_s3(self, video_id: str) -> dict[int, _FrameStats]:
        frames: dict[int, _FrameStats] = {}
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=f"frames/{video_id}/"):
            for obj in page.get("Contents", []):
                if not obj["Key"].endswith(".json"):
                    continue
                body = self._s3.get_object(Bucket=self._bucket, Key=obj["Key"])["Body"].read()
                result = FrameResult.model_validate(json.loads(body))
                frames[result.frame_index] = _FrameStats(
                    Counter(d.class_name for d in result.detections), result.processed_at
                )
        return frames


def _fps(times: list[datetime]) -> float | None:
    if len(times) < 2:
        return None
    span = (max(times) - min(times)).total_seconds()
    return round((len(times) - 1) / span, 3) if span > 0 else None
