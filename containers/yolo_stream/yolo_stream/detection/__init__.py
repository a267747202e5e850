"""Detection backends behind one interface.

``YOLO_BACKEND`` picks one: ``onnx`` (ONNX Runtime, FP32), ``onnx-int8`` (ONNX Runtime on the
static int8 model made by ``yolo_stream.quantize``), ``openvino`` (OpenVINO on the FP32 model, at
the CPU's native precision: bfloat16 where the CPU has it), ``openvino-int8`` (OpenVINO on the
int8 IR made by ``yolo_stream.quantize_openvino``, the rest at the CPU's precision),
``ultralytics`` (PyTorch, AGPL-3.0, imported only when selected) or ``auto`` (the default: the
fastest backend that meets the accuracy floor, see ``resolve_backend``). ONNX Runtime runs on
the CUDA or TensorRT provider when the installed package offers one and a GPU is present, on the
CPU otherwise; a backend or provider that cannot load falls back to ONNX FP32 on the CPU with a
warning, never to nothing.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

import numpy as np

from pipeline_common.contracts.video import Detection
from pipeline_common.observability import logger

Backend = Literal["auto", "onnx", "onnx-int8", "openvino", "openvino-int8", "ultralytics"]
Provider = Literal["auto", "cpu", "cuda", "tensorrt"]
# OpenVINO's precision for what is not int8: "auto" (bfloat16 where the CPU has it) or "f32"
# (FP32 everywhere, as a CPU without bfloat16 runs it).
OpenVinoPrecision = Literal["auto", "f32"]

# int8 is the default only where it was measured to keep detection agreement with FP32 at
# F1 >= 0.98 (bench/bench_yolo.py). On this project's x86 machines (AVX-512 VNNI) the mixed
# model (int8 with the sensitive modules FP32, yolo_stream.quantize.FP32_MODULES, percentile
# calibration) agrees at F1 0.983 over 500 frames and runs about 1.7x the FP32 frames/s with 1
# thread (fully int8 was 2.8x but F1 0.93); on an AVX2-only Zen 3 (no VNNI) F1 0.9866 at about
# 1.2x FP32's frames/s (1.6x Ultralytics'). arm64 (Graviton) could not be measured here and
# stays on the FP32 path.
INT8_MEETS_FLOOR: dict[str, bool] = {"x86_64": True, "aarch64": False, "arm64": False}
# OpenVINO on the FP32 model runs bfloat16 on CPUs that have it (AVX-512 BF16, AMX): on this
# project's AMD EPYC (AVX-512 BF16) it agrees with FP32 at F1 0.990 over the same 500 frames and
# runs about 1.1x (1 thread) and 1.2x (2 threads) the int8 model's frames/s, so it goes first
# there. Without bfloat16 it is FP32 at ONNX Runtime's speed: int8 stays the choice. Graviton 3
# and 4 have bfloat16 too, but nothing was measured on arm64: FP32 ONNX Runtime stays there.
BF16_MEETS_FLOOR: dict[str, bool] = {"x86_64": True, "aarch64": False, "arm64": False}
# OpenVINO's int8 IR (NNCF, yolo_stream.quantize_openvino) with bfloat16 for what stays FP32 is
# the fastest backend measured that meets the floor: on the same AMD EPYC and 500 frames, F1
# 0.9817 at 2.6-2.8x Ultralytics' frames/s with 1 and 2 threads (containers/yolo_stream/README.md).
# It goes first where bfloat16 runs. With its rest in FP32 (a CPU without bfloat16) it is level
# with ONNX Runtime's int8 model (1.93x / 2.00x vs 2.04x / 1.90x alone, 1 / 2 threads), which
# stays the choice there.


@dataclass(frozen=True)
class DetectorConfig:
    model_path: str
    backend: Backend = "onnx"
    provider: Provider = "auto"
    int8_model_path: str | None = None  # default: <model>.int8.onnx next to the FP32 model
    openvino_int8_model_path: str | None = None  # default: <model>.int8.xml (+ .bin)
    openvino_precision: OpenVinoPrecision = "auto"
    conf_threshold: float = 0.25
    iou_threshold: float = 0.7  # Ultralytics' predict default
    max_detections: int = 300
    img_size: int = 640
    threads: int = 1
    # ONNX Runtime's pool threads busy-wait for work between operators (its default). Off here:
    # the service decodes, annotates and uploads on the same cores, and a spinning thread takes
    # CPU from them and from the other pool thread (measured in bench/README.md).
    thread_spinning: bool = False
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
    backend: str  # "<backend>/<provider>", reported in /status and every frame message

    def detect(self, image: np.ndarray) -> DetectionRun: ...


def int8_model_path(config: DetectorConfig) -> str:
    return config.int8_model_path or _beside(config.model_path, ".int8.onnx")


def openvino_int8_model_path(config: DetectorConfig) -> str:
    """The int8 IR: as set, the model itself when that is an IR, else ``<model>.int8.xml``."""
    if config.openvino_int8_model_path:
        return config.openvino_int8_model_path
    if config.model_path.endswith(".xml"):
        return config.model_path
    return _beside(config.model_path, ".int8.xml")


def _beside(model: str, suffix: str) -> str:
    return (model[: -len(".onnx")] if model.endswith(".onnx") else model) + suffix


def resolve_backend(
    config: DetectorConfig, machine: str | None = None, bf16: bool | None = None
) -> Backend:
    """``auto`` -> a concrete backend: on a GPU, FP32 ONNX Runtime (its GPU provider); on a CPU
    with bfloat16 where that met the floor, OpenVINO (its int8 IR when that exists); else int8
    where it met the floor on this CPU architecture and its model exists; else FP32 ONNX
    Runtime. ``bf16``: whether OpenVINO runs bfloat16 here (asked of OpenVINO when None)."""
    if config.backend != "auto":
        return config.backend
    if config.provider in ("cuda", "tensorrt") or (
        config.provider == "auto" and _onnxruntime_has_gpu()
    ):
        return "onnx"
    machine = machine or platform.machine()
    if BF16_MEETS_FLOOR.get(machine, False):
        from yolo_stream.detection.openvino_backend import cpu_has_bf16

        if bf16 if bf16 is not None else cpu_has_bf16():
            return "openvino-int8" if _is_file(openvino_int8_model_path(config)) else "openvino"
    if INT8_MEETS_FLOOR.get(machine, False) and _is_file(int8_model_path(config)):
        return "onnx-int8"
    return "onnx"


def _onnxruntime_has_gpu() -> bool:
    import onnxruntime as ort

    from yolo_stream.detection.onnx_backend import GPU_PROVIDERS

    return GPU_PROVIDERS["cuda"] in ort.get_available_providers()


def load_detector(config: DetectorConfig) -> Detector:
    """Load (and warm up) the configured model; raises ``ModelLoadError`` with a clear message.
    A missing int8 model or an unloadable optional backend falls back to ONNX FP32 (OpenVINO's
    int8 IR to OpenVINO on the FP32 model first)."""
    from yolo_stream.detection.onnx_backend import OnnxDetector
    from yolo_stream.errors import ModelLoadError

    backend = resolve_backend(config)
    if backend == "ultralytics":
        from yolo_stream.detection.ultralytics_backend import UltralyticsDetector

        try:
            return UltralyticsDetector(config)
        except ModelLoadError as exc:
            if not config.model_path.endswith(".onnx"):
                raise  # a .pt model has no FP32 ONNX to fall back to
            logger.warning("ultralytics backend unavailable, using onnx", extra={"error": str(exc)})
            return OnnxDetector(replace(config, backend="onnx"))
    if backend == "openvino-int8":
        from yolo_stream.detection.openvino_backend import OpenVinoDetector

        path = openvino_int8_model_path(config)
        try:
            return OpenVinoDetector(replace(config, backend="openvino-int8", model_path=path))
        except ModelLoadError as exc:
            if path == config.model_path:
                raise  # YOLO_MODEL is the IR itself: no FP32 model to fall back to
            logger.warning("openvino int8 model unavailable", extra={"error": str(exc)})
        backend = "openvino"
    if backend == "openvino":
        from yolo_stream.detection.openvino_backend import OpenVinoDetector

        try:
            return OpenVinoDetector(replace(config, backend="openvino"))
        except ModelLoadError as exc:
            logger.warning("openvino backend unavailable, using onnx", extra={"error": str(exc)})
            return OnnxDetector(replace(config, backend="onnx"))
    if backend == "onnx-int8":
        path = int8_model_path(config)
        if _is_file(path):
            return OnnxDetector(replace(config, backend="onnx-int8", model_path=path))
        logger.warning("int8 model missing, using the FP32 model", extra={"int8_model": path})
    return OnnxDetector(replace(config, backend="onnx"))


def _is_file(path: str) -> bool:
    from yolo_stream.detection.model_files import resolve_model_path
    from yolo_stream.errors import ModelLoadError

    try:
        return resolve_model_path(path).is_file()
    except ModelLoadError:
        return False
