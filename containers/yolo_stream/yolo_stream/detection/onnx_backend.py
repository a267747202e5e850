"""ONNX Runtime backend: Ultralytics-identical letterbox, decoding and NMS in numpy."""

from __future__ import annotations

import time

import numpy as np

from pipeline_common.contracts.video import Box, Detection
from yolo_stream.detection import DetectionRun, DetectorConfig
from yolo_stream.detection.letterbox import letterbox, to_tensor
from yolo_stream.detection.model_files import existing_model, model_id, parse_names
from yolo_stream.detection.postprocess import decode_yolov8
from yolo_stream.errors import ModelLoadError


class OnnxDetector:
    def __init__(self, config: DetectorConfig) -> None:
        import onnxruntime as ort

        path = existing_model(config.model_path, (".onnx",))
        options = ort.SessionOptions()
        options.intra_op_num_threads = config.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelLoadError(
                f"YOLO_MODEL {str(path)!r} is not a loadable ONNX model: {exc}"
            ) from exc
        self.config = config
        model_input = self._session.get_inputs()[0]
        outputs = self._session.get_outputs()
        if len(model_input.shape) != 4 or not outputs or len(outputs[0].shape) != 3:
            raise ModelLoadError(
                f"YOLO_MODEL {str(path)!r} is not a YOLO detector (input {model_input.shape}, "
                f"output {[o.shape for o in outputs]})"
            )
        self._input_name = model_input.name
        self._dtype = np.float16 if model_input.type == "tensor(float16)" else np.float32
        height, width = model_input.shape[2], model_input.shape[3]
        meta = self._session.get_modelmeta().custom_metadata_map
        self.stride = int(meta.get("stride", 32))
        if isinstance(height, int) and isinstance(width, int):
            # A fixed-shape export accepts only its own size: letterbox to exactly that.
            self.network_size, self.rect = (height, width), False
        else:
            self.network_size, self.rect = (config.img_size, config.img_size), config.rect
        names = config.class_names or parse_names(meta.get("names"))
        n_classes = outputs[0].shape[1] - 4 if isinstance(outputs[0].shape[1], int) else None
        if names is None:
            names = {i: f"class_{i}" for i in range(n_classes or 0)}
        self.names = names
        self.model_id = model_id(path)
        self._warm_up()

    def _warm_up(self) -> None:
        """One inference at start: an incompatible model fails now, not on the first frame."""
        try:
            self.detect(np.full((self.network_size[0], self.network_size[1], 3), 114, np.uint8))
        except Exception as exc:
            raise ModelLoadError(
                f"YOLO_MODEL {self.config.model_path!r} failed a test inference: {exc}"
            ) from exc

    def detect(self, image: np.ndarray) -> DetectionRun:
        t0 = time.perf_counter()
        boxed = letterbox(image, self.network_size, rect=self.rect, stride=self.stride)
        tensor = to_tensor(boxed.image, self._dtype)
        t1 = time.perf_counter()
        (output,) = self._session.run(None, {self._input_name: tensor})[:1]
        t2 = time.perf_counter()
        raw = decode_yolov8(
            output,
            network_shape=boxed.image.shape[:2],
            source_shape=boxed.source_shape,
            conf_threshold=self.config.conf_threshold,
            iou_threshold=self.config.iou_threshold,
            max_detections=self.config.max_detections,
        )
        detections = [
            Detection(
                class_id=int(c),
                class_name=self.names.get(int(c), f"class_{int(c)}"),
                confidence=round(float(s), 5),
                box=Box(x1=float(b[0]), y1=float(b[1]), x2=float(b[2]), y2=float(b[3])),
            )
            for b, s, c in zip(raw.boxes, raw.scores, raw.class_ids, strict=True)
        ]
        t3 = time.perf_counter()
        return DetectionRun(
            detections=detections,
            timings_ms={
                "preprocess": (t1 - t0) * 1e3,
                "inference": (t2 - t1) * 1e3,
                "postprocess": (t3 - t2) * 1e3,
            },
        )
