"""Ultralytics (PyTorch) backend. Optional and AGPL-3.0: imported only when selected."""

from __future__ import annotations

import os

import numpy as np

from pipeline_common.contracts.video import Box, Detection
from yolo_stream.detection import DetectionRun, DetectorConfig
from yolo_stream.detection.model_files import existing_model, model_id
from yolo_stream.errors import ModelLoadError


def import_ultralytics():  # type: ignore[no-untyped-def]
    # Never let Ultralytics reach the network (update checks, asset or font downloads) at run time.
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_CONFIG_DIR", "/tmp/Ultralytics")  # noqa: S108 - writable anywhere
    try:
        import ultralytics
    except ImportError as exc:
        raise ModelLoadError(
            "YOLO_BACKEND=ultralytics needs the packages of "
            "containers/yolo_stream/requirements-ultralytics.txt"
        ) from exc
    return ultralytics


class UltralyticsDetector:
    def __init__(self, config: DetectorConfig) -> None:
        path = existing_model(config.model_path, (".pt", ".onnx"))
        ultralytics = import_ultralytics()
        import torch

        self._set_threads = lambda: torch.set_num_threads(config.threads)
        try:
            self._model = ultralytics.YOLO(str(path), task="detect")
        except Exception as exc:
            raise ModelLoadError(
                f"YOLO_MODEL {str(path)!r} is not a loadable YOLO model: {exc}"
            ) from exc
        self.config = config
        self.names = config.class_names or {int(k): str(v) for k, v in self._model.names.items()}
        self.model_id = model_id(path)
        self.backend = "ultralytics/torch-cpu"
        try:
            self.detect(np.full((config.img_size, config.img_size, 3), 114, np.uint8))
        except Exception as exc:
            raise ModelLoadError(
                f"YOLO_MODEL {str(path)!r} failed a test inference: {exc}"
            ) from exc

    def detect(self, image: np.ndarray) -> DetectionRun:
        # Ultralytics' device selection on the first predict sets torch to its own thread count
        # (cpu_count - 1: one thread on a 2-vCPU task); the configured count is set on every
        # call (a cheap call) so YOLO_THREADS holds after that, and after anything else resets it.
        self._set_threads()
        (result,) = self._model.predict(
            image,
            imgsz=self.config.img_size,
            conf=self.config.conf_threshold,
            iou=self.config.iou_threshold,
            max_det=self.config.max_detections,
            device="cpu",
            verbose=False,
        )
        boxes = result.boxes
        xyxy = boxes.xyxy.cpu().numpy()
        detections = [
            Detection(
                class_id=int(c),
                class_name=self.names.get(int(c), f"class_{int(c)}"),
                confidence=round(float(s), 5),
                box=Box(x1=float(b[0]), y1=float(b[1]), x2=float(b[2]), y2=float(b[3])),
            )
            for b, s, c in zip(xyxy, boxes.conf.cpu().numpy(), boxes.cls.cpu().numpy(), strict=True)
        ]
        return DetectionRun(detections=detections, timings_ms=dict(result.speed))
