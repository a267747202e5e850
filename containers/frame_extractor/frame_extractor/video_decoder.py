"""OpenCV decoding with the checks that turn bad files into clear, typed rejections."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2

from frame_extractor.errors import UndecodableVideo
from frame_extractor.sampling import FrameSampler

# Container signatures of the accepted formats. OpenCV's FFmpeg backend happily opens a JPEG
# renamed to .mp4 as a one-frame "video": sniffing the container refuses that up front.
_MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")


def sniff_container(head: bytes) -> str | None:
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if len(head) >= 8 and head[4:8] in _MP4_BOXES:
        return "mp4/mov"
    return None


@dataclass(frozen=True)
class VideoInfo:
    container: str
    total_frames: int | None
    fps: float | None
    width: int
    height: int


@dataclass(frozen=True)
class SampledFrame:
    index: int
    timestamp_ms: float
    jpeg: bytes
    width: int
    height: int


class VideoDecoder:
    def __init__(self, path: Path) -> None:
        with path.open("rb") as fh:
            head = fh.read(16)
        container = sniff_container(head)
        if container is None:
            raise UndecodableVideo(
                f"not a video file: no MP4/MOV, AVI or Matroska header (starts with {head[:8]!r})"
            )
        self._cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        if not self._cap.isOpened():
            raise UndecodableVideo(f"corrupt or truncated {container} video: cannot be opened")
        count = self._cap.get(cv2.CAP_PROP_FRAME_COUNT)
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.info = VideoInfo(
            container=container,
            total_frames=int(count) if 0 < count < 1e9 else None,
            fps=float(fps) if 0 < fps < 1000 else None,
            width=int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
        self.frames_decoded = 0
        self.stopped_at_max_frames = False

    def sample(
        self, sampler: FrameSampler, *, jpeg_quality: int, max_frames: int
    ) -> Iterator[SampledFrame]:
        params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
        kept = 0
        index = 0
        try:
            while kept < max_frames:
                if not self._cap.grab():  # grab without converting frames we skip
                    break
                self.frames_decoded += 1
                if sampler.keep(index):
                    ok, frame = self._cap.retrieve()
                    if not ok or frame is None:
                        break
                    ok, jpeg = cv2.imencode(".jpg", frame, params)
                    if not ok:  # pragma: no cover - only on invalid arrays
                        break
                    kept += 1
                    yield SampledFrame(
                        index=index,
                        timestamp_ms=self._timestamp_ms(index),
                        jpeg=jpeg.tobytes(),
                        width=frame.shape[1],
                        height=frame.shape[0],
                    )
                index += 1
            else:
                self.stopped_at_max_frames = True
        finally:
            self._cap.release()

    def truncated(self) -> bool:
        """Fewer frames decoded than the container announces (and the cap did not stop us)."""
        total = self.info.total_frames
        return not self.stopped_at_max_frames and total is not None and self.frames_decoded < total

    def _timestamp_ms(self, index: int) -> float:
        if self.info.fps:
            return round(index * 1000.0 / self.info.fps, 3)
        return max(float(self._cap.get(cv2.CAP_PROP_POS_MSEC)), 0.0)
