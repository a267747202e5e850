"""Counters behind ``GET /status`` and ``GET /health``, shared by the shard threads."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

FPS_WINDOW_SECONDS = 30.0


@dataclass
class ShardState:
    state: str = "starting"  # starting | reading | leased-elsewhere | finished | error
    lag_ms: int | None = None
    last_sequence: str | None = None
    heartbeat: float = field(default_factory=time.monotonic)
    error: str | None = None  # the exception type only: /status is no place for its message


class ServiceStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.frames_processed = 0
        self.frames_failed = 0
        self.videos_completed = 0
        self.first_frame_at: float | None = None  # wall clock, for throughput measurements
        self.last_frame_at: float | None = None
        self._recent: deque[float] = deque()
        self.shards: dict[str, ShardState] = {}

    def outcome(self, kind: str) -> None:
        now = time.time()
        with self._lock:
            if kind == "frame":
                self.frames_processed += 1
                self.first_frame_at = self.first_frame_at or now
                self.last_frame_at = now
                self._recent.append(time.monotonic())
            elif kind == "failed":
                self.frames_failed += 1
            elif kind == "summary":
                self.videos_completed += 1

    def shard(self, shard_id: str, **changes: Any) -> None:
        with self._lock:
            state = self.shards.setdefault(shard_id, ShardState())
            for name, value in changes.items():
                setattr(state, name, value)
            state.heartbeat = time.monotonic()

    def fps(self) -> float:
        with self._lock:
            cutoff = time.monotonic() - FPS_WINDOW_SECONDS
            while self._recent and self._recent[0] < cutoff:
                self._recent.popleft()
            if len(self._recent) < 2:
                return 0.0
            span = self._recent[-1] - self._recent[0]
            return round((len(self._recent) - 1) / span, 3) if span > 0 else 0.0

    def snapshot(self) -> dict[str, Any]:
        fps = self.fps()
        with self._lock:
            return {
                "frames_processed": self.frames_processed,
                "frames_failed": self.frames_failed,
                "videos_completed": self.videos_completed,
                "fps": fps,
                "first_frame_at": self.first_frame_at,
                "last_frame_at": self.last_frame_at,
                "shards": {
                    sid: {
                        "state": s.state,
                        "lag_ms": s.lag_ms,
                        "last_sequence": s.last_sequence,
                        "seconds_since_heartbeat": round(time.monotonic() - s.heartbeat, 1),
                        "error": s.error,
                    }
                    for sid, s in sorted(self.shards.items())
                },
            }
