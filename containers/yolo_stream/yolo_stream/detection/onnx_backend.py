"""ONNX Runtime backend: Ultralytics-identical letterbox, decoding and NMS in numpy."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from pipeline_common.contracts.video import Box, Detection
from pipeline_common.observability import logger
from yolo_stream.detection import DetectionRun, DetectorConfig
from yolo_stream.detection.letterbox import letterbox, to_tensor
from yolo_stream.detection.model_files import existing_model, model_id, parse_names
from yolo_stream.detection.postprocess import decode_yolov8
from yolo_stream.errors import ModelLoadError

GPU_PROVIDERS = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
}


def session_providers(wanted: str, available: list[str] | None = None) -> list[str]:
    """Execution providers in preference order, always ending with the CPU one. ``auto`` takes
    CUDA when the installed onnxruntime has it (onnxruntime-gpu on a GPU instance); TensorRT only
    when asked, since it compiles engines at start. A provider that is asked for but missing is
    dropped with a warning: the service runs on the CPU rather than not at all."""
    import onnxruntime as ort

    available = available if available is not None else ort.get_available_providers()
    if wanted == "auto":
        chosen = [GPU_PROVIDERS["cuda"]] if GPU_PROVIDERS["cuda"] in available else []
    elif wanted in GPU_PROVIDERS:
        chosen = [p for p in (GPU_PROVIDERS[wanted], GPU_PROVIDERS["cuda"]) if p in available]
        if GPU_PROVIDERS[wanted] not in available:
            logger.warning(
                "execution provider not available, falling back",
                extra={"wanted": GPU_PROVIDERS[wanted], "available": available},
            )
    else:
        chosen = []
    return [*dict.fromkeys(chosen), "CPUExecutionProvider"]


class OnnxDetector:
    MODEL_SUFFIXES: tuple[str, ...] = (".onnx",)

    def __init__(self, config: DetectorConfig) -> None:
        path = existing_model(config.model_path, self.MODEL_SUFFIXES)
        self.config = config
        input_shape, output_shape, meta = self._open(path)
        if len(input_shape) != 4 or len(output_shape) != 3:
            raise ModelLoadError(
                f"YOLO_MODEL {str(path)!r} is not a YOLO detector (input {input_shape}, "
                f"output {output_shape})"
            )
        height, width = input_shape[2], input_shape[3]
        self.stride = int(meta.get("stride", 32))
        if isinstance(height, int) and isinstance(width, int):
            # A fixed-shape export accepts only its own size: letterbox to exactly that.
            self.network_size, self.rect = (height, width), False
        else:
            self.network_size, self.rect = (config.img_size, config.img_size), config.rect
        names = config.class_names or parse_names(meta.get("names"))
        n_classes = output_shape[1] - 4 if isinstance(output_shape[1], int) else None
        if names is None:
            names = {i: f"class_{i}" for i in range(n_classes or 0)}
        self.names = names
        self.model_id = model_id(path)
        self._warm_up()

    def _open(self, path: Path) -> tuple[list[Any], list[Any], dict[str, str]]:
        """Load the model into the runtime: (input shape, first output's shape, metadata), a
        dimension being an int when fixed. Sets ``backend`` and what ``_infer`` needs."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.config.threads
        options.inter_op_num_threads = 1
        if not self.config.thread_spinning:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session = ort.InferenceSession(
                str(path), sess_options=options, providers=session_providers(self.config.provider)
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelLoadError(
                f"YOLO_MODEL {str(path)!r} is not a loadable ONNX model: {exc}"
            ) from exc
        model_input = self._session.get_inputs()[0]
        outputs = self._session.get_outputs()
        self._input_name = model_input.name
        self._dtype = np.float16 if model_input.type == "tensor(float16)" else np.float32
        precision = "int8" if self.config.backend == "onnx-int8" else "fp32"
        self.backend = f"onnx-{precision}/{self._session.get_providers()[0]}"
        meta = dict(self._session.get_modelmeta().custom_metadata_map)
        return list(model_input.shape), list(outputs[0].shape) if outputs else [], meta

    def _infer(self, tensor: np.ndarray) -> np.ndarray:
        (output,) = self._session.run(None, {self._input_name: tensor})[:1]
        return np.asarray(output)

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
        output = self._infer(tensor)
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
