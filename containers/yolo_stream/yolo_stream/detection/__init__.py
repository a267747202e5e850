"""Detection backends behind one interface.

ONNX Runtime is the default (small image, fast on CPU, Apache-2.0). Ultralytics (PyTorch, AGPL-3.0)
is optional: it is imported only when ``YOLO_BACKEND=ultralytics`` selects it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from pipeline_common.contracts.video import Detection

Backend = Literal["onnx", "ultralytics"]


@dataclass(frozen=True)
class DetectorConfig:
    model_path: str
    backend: Backend = "onnx"
    conf_threshold: float = 0.25
    iou_threshold: float = 0.7  # Ultralytics' predict default
    max_detections: int = 300
    img_size: int = 640
    threads: int = 1
    # rect: pad 16:9 frames to the smallest stride multiple (384x640) instead of 640x640.
    rect: bool = True
    class_names: dict[int, str] | None = None


@dataclass
class DetectionRun:
    detections: list[Detection]
    timings_ms: dict[str, float] = field(default_factory=dict)


class Detector(Protocol):
    model_id: str
    names: dict[int, str]

    def detect(self, image: np.ndarray) -> DetectionRun: ...


def load_detector(config: DetectorConfig) -> Detector:
    """Load (and warm up) the configured model; raises ``ModelLoadError`` with a clear message."""
    if config.backend == "ultralytics":
        from yolo_stream.detection.ultralytics_backend import UltralyticsDetector

        return UltralyticsDetector(config)
    from yolo_stream.detection.onnx_backend import OnnxDetector

    return OnnxDetector(config)
