"""OpenVINO backend: the same FP32 ONNX model, letterbox, decoding and NMS as the ONNX Runtime
backend, run by OpenVINO's CPU plugin at the CPU's native inference precision: bfloat16 where the
CPU has it (AVX-512 BF16, AMX), FP32 elsewhere. The backend label says which
(``openvino-bf16/CPU`` or ``openvino-fp32/CPU``).

``openvino-int8`` runs the IR (``.xml`` + ``.bin``) that ``yolo_stream.quantize_openvino`` makes
with NNCF: int8 where it was quantised, the rest at the CPU's native precision as above
(``openvino-int8-bf16/CPU`` or ``openvino-int8-fp32/CPU``). Not ONNX Runtime's QDQ int8 model:
OpenVINO reads it, but its output does not agree with FP32 (F1 0.32 over the benchmark's 500
frames).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from yolo_stream.detection.onnx_backend import OnnxDetector
from yolo_stream.errors import ModelLoadError

DEVICE = "CPU"


def cpu_has_bf16() -> bool:
    """Whether OpenVINO's CPU plugin runs bfloat16 here (False when OpenVINO is missing)."""
    try:
        import openvino as ov
    except ImportError:
        return False
    return "BF16" in ov.Core().get_property(DEVICE, "OPTIMIZATION_CAPABILITIES")


class OpenVinoDetector(OnnxDetector):
    MODEL_SUFFIXES = (".onnx", ".xml")

    def _open(self, path: Path) -> tuple[list[Any], list[Any], dict[str, str]]:
        try:
            import openvino as ov
        except ImportError as exc:
            raise ModelLoadError(f"the openvino backend needs the openvino package: {exc}") from exc
        core = ov.Core()
        try:
            model = core.read_model(str(path))
            options = compile_options(self.config.threads, self.config.openvino_precision)
            compiled = core.compile_model(model, DEVICE, options)
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses of its own
            raise ModelLoadError(
                f"YOLO_MODEL {str(path)!r} is not a model OpenVINO can load: {exc}"
            ) from exc
        self._dtype = np.float32
        int8 = any(op.get_type_name() == "FakeQuantize" for op in model.get_ops())
        if self.config.backend == "openvino-int8" and not int8:
            raise ModelLoadError(f"{str(path)!r} has no int8 operations (not a quantised IR)")
        self.use_compiled(compiled)
        precision = compiled.get_property("INFERENCE_PRECISION_HINT")
        rest = "bf16" if precision == ov.Type.bf16 else "fp32"
        self.backend = f"openvino-{'int8-' if int8 else ''}{rest}/{DEVICE}"
        meta = {  # the ONNX model's metadata, as OpenVINO keeps it
            key: model.get_rt_info(["framework", key]).astype(str)
            for key in ("names", "stride")
            if model.has_rt_info(["framework", key])
        }
        return _dims(model.inputs[0]), _dims(model.outputs[0]) if model.outputs else [], meta

    def use_compiled(self, compiled: Any) -> None:
        """Run this compiled model from now on (the int8 step scores candidates through it)."""
        self._request = compiled.create_infer_request()

    def _infer(self, tensor: np.ndarray) -> np.ndarray:
        return np.asarray(self._request.infer({0: tensor})[0])


def compile_options(threads: int, precision: str = "auto") -> dict[str, Any]:
    """One stream, latency-first: frames of a video are inferred one after another. Threads not
    pinned to cores (OpenVINO pins them by default): the service decodes, annotates and uploads
    on the same cores, and with pinning its 2-thread int8 runs reached 0.44 and 0.59 of the
    model-only bound (150 and 103 ms of CPU a frame) against 0.70 (85 ms) without
    (bench/README.md). ``precision``: ``auto`` (the CPU's native precision for what is not
    int8: bfloat16 where the CPU has it) or ``f32``."""
    options: dict[str, Any] = {
        "INFERENCE_NUM_THREADS": threads,
        "NUM_STREAMS": 1,
        "PERFORMANCE_HINT": "LATENCY",
        "ENABLE_CPU_PINNING": False,
    }
    if precision == "f32":
        options["INFERENCE_PRECISION_HINT"] = "f32"
    return options


def _dims(port: Any) -> list[Any]:
    """A port's shape as ONNX Runtime gives it: an int per fixed dimension, None otherwise."""
    return [d.get_length() if d.is_static else None for d in port.get_partial_shape()]
