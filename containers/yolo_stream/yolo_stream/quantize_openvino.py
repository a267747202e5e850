"""OpenVINO int8 of an exported YOLOv8 ONNX model with NNCF (the container build runs it after the
export step, beside ``yolo_stream.quantize``; also a command):

    python -m yolo_stream.quantize_openvino --model models/person.onnx --out models/person.int8.xml

NNCF post-training quantisation (``nncf.quantize``, mixed preset: symmetric weights, asymmetric
activations) calibrated on the same frames as ``yolo_stream.quantize``, saved as OpenVINO IR
(``.xml`` + ``.bin``) for the ``openvino-int8`` backend. FP32 stay: the detect head's activations,
DFL and class scores (``HEAD_ARITHMETIC_PATTERNS``), the modules the ONNX Runtime step keeps FP32
(``FP32_MODULES``), and the operations ``nncf.quantize_with_accuracy_control`` put back to FP32
to bring agreement with the FP32 model to the floor (``ACCURACY_CONTROL_FP32``: among them the
end of the box decoding, where pixels and 0..1 scores meet in one tensor).

The step then measures detection agreement with the FP32 model (ONNX Runtime) on validation
frames of other pans than the benchmark's, with the rest in FP32 and, where the CPU has it, in
bfloat16 (the image may run on either). Under the floor it stops with an error (exit 3), or, with
``--accuracy-control``, searches for the operations to put back itself (NNCF's accuracy-aware
quantisation with that agreement as its metric; about 20 minutes on 2 vCPU): for a model whose
sensitive operations differ from the person detector's.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pipeline_common.contracts.video import Detection
from yolo_stream.agreement import F1_FLOOR, Agreement, agreement
from yolo_stream.detection import DetectorConfig
from yolo_stream.detection.letterbox import letterbox, to_tensor
from yolo_stream.detection.openvino_backend import compile_options, cpu_has_bf16
from yolo_stream.quantize import (
    FP32_MODULES,
    calibration_frames,
    package_photos,
    validation_frames,
)

# In the detect head (module 22, OpenVINO names of the ONNX export's nested /model.22/ nodes): the
# SiLU multiplications of its box and class branches (their convolutions stay int8) and the DFL;
# with ``types=["Sigmoid"]`` its class scores. The head's top-level box decoding (/model.22/Sub,
# Add_*, Div_*: no second "/") is not matched; accuracy control put back what matters of it.
HEAD_ARITHMETIC_PATTERNS: tuple[str, ...] = (
    r".*/model\.22/.*/Add",
    r".*/model\.22/.*/Sub.*",
    r".*/model\.22/.*/Mul.*",
    r".*/model\.22/.*/Div.*",
    r".*/model\.22/dfl.*",
)
# What one ``nncf.quantize_with_accuracy_control`` run on the person detector (NNCF 3.4.0, 22 min
# on 2 vCPU) put back to FP32 from the start above: 11 of 90 activation quantizers, named here by
# the operations they fed. With them plain quantisation takes under a minute and agrees with FP32
# as the searched model did (500 benchmark frames: F1 0.9885 FP32 rest, 0.9817 bfloat16 rest).
ACCURACY_CONTROL_FP32: tuple[str, ...] = (
    "/model.4/cv1/act/Mul",
    "/model.7/conv/Conv/WithoutBiases",
    "/model.11/Concat",
    "/model.18/m.0/cv2/conv/Conv/WithoutBiases",
    "/model.22/Add_8",
    "/model.22/Sub_1",
    "/model.22/Concat_25",
    "/model.22/cv3.2/cv3.2.1/conv/Conv/WithoutBiases",
    "/model.22/cv3.2/cv3.2.2/Conv/WithoutBiases",
)
# NNCF's overflow fix (its default: the first layer's weights) quantises weights to 7 bits so that
# CPUs without VNNI cannot saturate int8 products in 16 bits. Measured on an AVX2-only AMD EPYC
# (Zen 3, no VNNI), validation agreement with FP32: default 0.9779 (under the floor), the fix on
# every layer 0.9740, no fix 0.9872: OpenVINO's CPU plugin did not saturate there, and the lost
# bit cost more than it saved. VNNI and AMX accumulate in 32 bits, where the fix only drops a bit.
OVERFLOW_FIX = "disable"
MAX_DROP = 1.0 - F1_FLOOR  # agreement with FP32 is 1.0 by definition
UNDER_FLOOR_EXIT = 3  # the command's exit status when no int8 model met the floor
# Fewer FP32 detections than this on the validation frames and an F1 says nothing (a model with
# none, e.g. untrained or of classes the photos do not show, would agree vacuously at 1.0).
MIN_REFERENCE_DETECTIONS = 50


class UnderFloorError(ValueError):
    """No int8 model agreed with FP32 at the floor, or agreement could not be measured: nothing
    was written."""


def ignored_scope(modules: Sequence[int], operations: Sequence[str]) -> Any:
    import nncf

    patterns = [*HEAD_ARITHMETIC_PATTERNS, *(rf".*/model\.{m}/.*" for m in modules)]
    # validate=False: another YOLOv8 size may lack a name; what it has is still ignored.
    return nncf.IgnoredScope(
        names=list(operations), patterns=patterns, types=["Sigmoid"], validate=False
    )


class _AgreementMetric:
    """F1 of a candidate OpenVINO model's detections against FP32 ONNX Runtime's on fixed frames;
    the candidate runs through the ``openvino`` backend's own letterbox, decoding and NMS."""

    def __init__(self, fp32: Path, frames: list[np.ndarray], threads: int, img_size: int) -> None:
        from yolo_stream.detection import load_detector
        from yolo_stream.detection.openvino_backend import OpenVinoDetector

        config = DetectorConfig(str(fp32), threads=threads, img_size=img_size)
        reference = load_detector(config)
        self.frames = frames
        self.reference: list[list[Detection]] = [reference.detect(f).detections for f in frames]
        self._shell = OpenVinoDetector(config)

    def run(self, compiled: Any, indices: Sequence[int] | None = None) -> Agreement:
        self._shell.use_compiled(compiled)
        chosen = range(len(self.frames)) if indices is None else indices
        return agreement(
            (self.reference[i], self._shell.detect(self.frames[i]).detections) for i in chosen
        )

    def worst(self, core: Any, model: Any, threads: int) -> Agreement:
        """Agreement at each precision the IR may run at (FP32 rest, and bfloat16 rest where this
        CPU has it: the image may run on either kind): the lower."""
        precisions = ["f32"] + (["auto"] if cpu_has_bf16() else [])
        results = [
            self.run(core.compile_model(model, "CPU", compile_options(threads, precision)))
            for precision in precisions
        ]
        return min(results, key=lambda result: result.f1)

    def validation_fn(self) -> Callable[[Any, Sequence[int]], float]:
        return lambda compiled, indices: self.run(compiled, list(indices)).f1


def quantize_openvino(
    model: Path,
    out: Path,
    *,
    photos: list[Path] | None = None,
    per_photo: int = 6,
    img_size: int = 640,
    fp32_modules: Sequence[int] = FP32_MODULES,
    fp32_operations: Sequence[str] = ACCURACY_CONTROL_FP32,
    accuracy_control: bool = False,
    threads: int = 2,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> tuple[Path, Agreement]:
    import nncf
    import openvino as ov
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, OverflowFix

    photos = photos if photos is not None else package_photos()
    if not photos:
        raise ValueError("no calibration photos (install ultralytics or scikit-image)")
    metric = _AgreementMetric(model, validation_frames(photos), threads, img_size)
    found = sum(len(detections) for detections in metric.reference)
    if found < MIN_REFERENCE_DETECTIONS:
        raise UnderFloorError(
            f"the FP32 model finds {found} objects on {len(metric.frames)} validation frames "
            f"(< {MIN_REFERENCE_DETECTIONS}): its agreement with int8 cannot be measured"
        )
    size = (img_size, img_size)
    tensors = [
        to_tensor(letterbox(f, size, rect=True).image)
        for f in calibration_frames(photos, per_photo)
    ]
    core = ov.Core()
    scope = ignored_scope(fp32_modules, fp32_operations)
    options = {"preset": nncf.QuantizationPreset.MIXED, "subset_size": len(tensors)}
    advanced = AdvancedQuantizationParameters(overflow_fix=OverflowFix(OVERFLOW_FIX))
    quantized = nncf.quantize(
        core.read_model(str(model)),
        nncf.Dataset(tensors),
        ignored_scope=scope,
        advanced_parameters=advanced,
        **options,
    )
    result = metric.worst(core, quantized, threads)
    log(f"int8 agreement with FP32 on {result.frames} validation frames: {result.as_dict()}")
    how = "recorded FP32 operations"
    if result.f1 < F1_FLOOR:
        if not accuracy_control:
            raise UnderFloorError(
                f"int8 agrees with FP32 at F1 {result.f1:.4f} < {F1_FLOOR} on the validation "
                "frames: rerun with --accuracy-control"
            )
        quantized = nncf.quantize_with_accuracy_control(
            core.read_model(str(model)),
            nncf.Dataset(tensors),
            nncf.Dataset(list(range(len(metric.frames)))),
            validation_fn=metric.validation_fn(),
            max_drop=MAX_DROP,
            drop_type=nncf.DropType.ABSOLUTE,
            ignored_scope=scope,
            advanced_quantization_parameters=advanced,
            **options,
        )
        result = metric.worst(core, quantized, threads)
        log(f"after accuracy control: {result.as_dict()}")
        if result.f1 < F1_FLOOR:
            raise UnderFloorError(
                f"no int8 model found at F1 >= {F1_FLOOR} (best {result.f1:.4f}): the "
                "openvino backend runs the FP32 model instead"
            )
        how = "accuracy control"
    quantized.set_rt_info(
        f"int8 NNCF {nncf.__version__} mixed, overflow fix {OVERFLOW_FIX}, FP32: head "
        "activations and DFL, modules "
        f"{list(fp32_modules)}, {how}; F1 vs FP32 {result.f1:.4f} on {result.frames} frames",
        ["framework", "quantization"],
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, str(out))
    return out, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, type=Path, help="the FP32 .onnx (export step)")
    parser.add_argument("--out", required=True, type=Path, help="where to write the int8 .xml")
    parser.add_argument("--photo", action="append", type=Path, help="calibration photo(s)")
    parser.add_argument(
        "--accuracy-control",
        action="store_true",
        help="under the floor, search for the operations to keep FP32 (about 20 minutes)",
    )
    parser.add_argument("--imgsz", type=int, default=640, help="the service's IMG_SIZE")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        path, _ = quantize_openvino(
            args.model,
            args.out,
            photos=args.photo,
            img_size=args.imgsz,
            accuracy_control=args.accuracy_control,
            threads=args.threads,
        )
    except UnderFloorError as exc:
        print(f"no int8 IR written: {exc}", file=sys.stderr)
        return UNDER_FLOOR_EXIT
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
