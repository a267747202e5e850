"""Static int8 quantisation of an exported YOLOv8 ONNX model (the container build runs it after the
export step; also a command):

    python -m yolo_stream.quantize --model models/yolov8n.onnx --out models/yolov8n.int8.onnx

ONNX Runtime QDQ format, weights int8 per output channel, activations calibrated (percentile
histograms, onnxruntime's 99.999 %) on real frames: pan/zoom sequences over the photos installed
packages ship (Ultralytics' ``assets/``, scikit-image's ``data/``), letterboxed exactly as the
service letterboxes its frames. The detect
head (every node under the head that is not one of its 3x3 convolutions, and its DFL) stays FP32:
its last Concat mixes box coordinates in pixels with class scores in 0..1, and one int8 scale for
both zeroes every score. So do the modules a sensitivity sweep found to cost the most agreement
(``FP32_MODULES``: the stem and a few C2f blocks). Accuracy is judged the way users see it,
detection agreement with the FP32 model after NMS (``yolo_stream.agreement``), not by per-box
confidences.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from yolo_stream.detection.letterbox import letterbox, to_tensor

ACTIVATION_TYPES = ("uint8", "int8")
CALIBRATIONS = ("minmax", "percentile", "entropy")


def package_photos() -> list[Path]:
    """Colour photos shipped by installed packages (whichever of them are installed)."""
    photos: list[Path] = []
    for package, folder, names in (
        ("ultralytics", "assets", ("bus.jpg", "zidane.jpg")),
        (
            "skimage",
            "data",
            (
                "astronaut.png",
                "coffee.png",
                "chelsea.png",
                "rocket.jpg",
                "motorcycle_left.png",
                "hubble_deep_field.jpg",
                "camera.png",
                "horse.png",
            ),
        ),
    ):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        root = Path(next(iter(spec.submodule_search_locations))) / folder
        photos.extend(p for name in names if (p := root / name).is_file())
    return photos


def read_photo(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)  # greyscale photos come back as 3 channels
    if image is None:
        raise FileNotFoundError(path)
    return image


def pan_zoom(
    image: np.ndarray,
    count: int,
    size: tuple[int, int],
    *,
    zoom: float = 0.25,
    reverse: bool = False,
) -> list[np.ndarray]:
    """``count`` frames of ``size`` (w, h): a window zooming in by ``zoom`` while it pans across
    the photo (right to left with ``reverse``); the camera moves of a real video over a scene."""
    h, w = image.shape[:2]
    aspect = size[0] / size[1]
    frames = []
    for i in range(count):
        t = i / max(count - 1, 1)
        win_w = min(w, h * aspect) * (1.0 - zoom * t)
        win_h = min(win_w / aspect, h)
        x0 = (w - win_w) * (1 - t if reverse else t)
        y0 = (h - win_h) * 0.5
        crop = image[int(y0) : int(y0 + win_h), int(x0) : int(x0 + win_w)]
        frames.append(cv2.resize(crop, size, interpolation=cv2.INTER_AREA))
    return frames


def calibration_frames(photos: list[Path], per_photo: int = 6) -> list[np.ndarray]:
    """Frames for calibration: each photo whole, and a reversed, stronger pan/zoom over it in 16:9
    and 4:3 (the evaluation uses forward pans, so the two sets share no frame)."""
    frames: list[np.ndarray] = []
    for path in photos:
        image = read_photo(path)
        frames.append(image)
        frames += pan_zoom(image, per_photo // 2, (1280, 720), zoom=0.5, reverse=True)
        frames += pan_zoom(image, per_photo - per_photo // 2, (960, 720), zoom=0.4, reverse=True)
    return frames


def benchmark_frames(per_photo: int = 50) -> list[np.ndarray]:
    """The frames int8's agreement with FP32 is judged on (``bench/bench_yolo.py``, the tests):
    forward pan/zoom sequences over the packaged photos, 50 a photo (500 frames). 20 a photo
    (200) proved too coarse: about 210 FP32 detections, so one flipped box moved F1 by 0.005, and
    a configuration at 0.986 on 200 frames was at 0.972 on these 500."""
    frames: list[np.ndarray] = []
    for path in package_photos():
        frames += pan_zoom(read_photo(path), per_photo, (1280, 720))
    return frames


def validation_frames(photos: list[Path]) -> list[np.ndarray]:
    """Frames to check an int8 model's agreement with FP32 on: every other frame of longer
    reversed pans than calibration's (the benchmark pans forward). 155 from the packaged photos:
    enough detections (about 157) for one miss to move F1 by well under the floor's margin."""
    return calibration_frames(photos, 30)[1::2]


class _FrameReader:
    """onnxruntime's CalibrationDataReader protocol: one letterboxed input per call. ``__len__``
    and ``set_range`` let onnxruntime calibrate one frame at a time (``CalibStridedMinMax=1``):
    its histogram calibrators (percentile, entropy) stack a batch's tensors into one array, which
    fails when the frames' aspect ratios give different letterboxed shapes."""

    def __init__(self, input_name: str, frames: list[np.ndarray], img_size: int, rect: bool):
        self._frames = frames
        self._input_name = input_name
        self._size = (img_size, img_size)
        self._rect = rect
        self._items: Iterator[np.ndarray] = iter(frames)

    def __len__(self) -> int:
        return len(self._frames)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._items = iter(self._frames[start_index:end_index])

    def get_next(self) -> dict[str, np.ndarray] | None:
        frame = next(self._items, None)
        if frame is None:
            return None
        return {self._input_name: to_tensor(letterbox(frame, self._size, rect=self._rect).image)}


def head_nodes_to_keep_fp32(model_path: Path, mode: str = "outputs") -> list[str]:
    """The detect head's nodes except its stacked 3x3 convolutions (``cv2.i.0/1``, ``cv3.i.0/1``):
    the 1x1 output convolutions, concatenations, DFL and box decoding stay FP32."""
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    head = _head_prefix([n.name for n in graph.node])
    keep = []
    for node in graph.node:
        if not node.name.startswith(head):
            continue
        parts = node.name.split("/")
        quantisable = (
            mode == "outputs"
            and node.op_type == "Conv"
            and len(parts) > 3
            and re.fullmatch(r"cv[23]\.\d+\.[01]", parts[3]) is not None
        )
        if not quantisable:
            keep.append(node.name)
    return keep


# The modules kept FP32, chosen on the packaged YOLOv8s person detector (x86 AVX-512 VNNI).
# Sensitivity sweep: quantise one module at a time (every other node FP32, the head as above) and
# compare class scores with FP32 on 8 of the evaluation frames (mean |score difference| over
# anchors where either score > 0.05). All modules int8: 0.046. One module int8: model.1 0.028,
# model.2 0.023, model.0 0.022, model.8 0.012, model.6 0.0088, model.21 0.0083, model.4 0.0075,
# model.9 0.0073, model.20 0.0070, head 3x3 convolutions 0.0060, every other module <= 0.0051.
# Detection agreement (F1 vs FP32) on 500 frames (bench/bench_yolo.py's agreement set; 200
# frames proved too coarse, one flipped box moving F1 by 0.005), min/max -> percentile
# calibration: none FP32 0.93 -> (not run); 0, 1, 2, 6, 8: 0.969 -> 0.977; 0, 1, 2, 6, 8, 21:
# 0.974; 0, 1, 2, 6, 8, 20, 21: 0.971; 0, 1, 2, 6, 8, 9, 20, 21: 0.974 -> 0.983;
# 0, 1, 2, 4, 6, 8, 9, 20, 21: 0.972 -> 0.986 (0.981 with min/max on 20 calibration frames a
# photo; entropy 0.976; symmetric int8 activations 0.943). Speed, 1 thread, x FP32 in one run:
# none 2.8x, five modules 1.9x, eight 1.7x, nine 1.6x: module 4 (a C2f at 1/8 scale) is the
# expensive one to keep FP32, modules 9, 20 and 21 (1/32 scale) are cheap. So: eight modules,
# percentile calibration.
FP32_MODULES: tuple[int, ...] = (0, 1, 2, 6, 8, 9, 20, 21)


def module_nodes(model_path: Path, modules: tuple[int, ...]) -> list[str]:
    """Every node of the Ultralytics modules ``/model.<i>/`` named in ``modules``."""
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    prefixes = tuple(f"/model.{i}/" for i in modules)
    return [n.name for n in graph.node if n.name.startswith(prefixes)] if prefixes else []


def _head_prefix(names: list[str]) -> str:
    """``/model.<last>/``: the detect head is the last module of a YOLOv8/11 export."""
    indices = [int(n.split("/")[1].split(".")[1]) for n in names if n.startswith("/model.")]
    if not indices:
        raise ValueError("not an Ultralytics YOLO export (no /model.N/ nodes)")
    return f"/model.{max(indices)}/"


def quantize_int8(
    model: Path,
    out: Path,
    *,
    photos: list[Path] | None = None,
    img_size: int = 640,
    rect: bool = True,
    activation: str = "uint8",
    per_photo: int = 6,
    op_types: list[str] | None = None,
    head_fp32: str = "outputs",
    calibration: str = "percentile",
    fp32_modules: tuple[int, ...] = FP32_MODULES,
) -> Path:
    import onnx
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    photos = photos if photos is not None else package_photos()
    if not photos:
        raise ValueError("no calibration photos (install ultralytics or scikit-image)")
    frames = calibration_frames(photos, per_photo)
    input_name = onnx.load(str(model), load_external_data=False).graph.input[0].name
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="yolo-quant-") as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        # Shape inference and constant folding first, as onnxruntime recommends for static
        # quantisation (it needs the shapes to place Q/DQ pairs).
        quant_pre_process(str(model), str(prepared), skip_symbolic_shape=False, auto_merge=True)
        act = QuantType.QUInt8 if activation == "uint8" else QuantType.QInt8

        def run(method: str) -> None:
            quantize_static(
                str(prepared),
                str(out),
                _FrameReader(input_name, frames, img_size, rect),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=act,
                weight_type=QuantType.QInt8,
                op_types_to_quantize=op_types,
                nodes_to_exclude=head_nodes_to_keep_fp32(prepared, head_fp32)
                + module_nodes(prepared, fp32_modules),
                calibrate_method={
                    "minmax": CalibrationMethod.MinMax,
                    "percentile": CalibrationMethod.Percentile,
                    "entropy": CalibrationMethod.Entropy,
                }[method],
                extra_options={
                    "ActivationSymmetric": activation == "int8",
                    # one frame per calibration batch (see _FrameReader)
                    "CalibStridedMinMax": 1 if method != "minmax" else None,
                },
            )

        used = calibration
        try:
            run(calibration)
        except ValueError as exc:
            # onnxruntime's histogram calibrators cannot bin a tensor whose values (nearly) all
            # equal one another (numpy: "Too many bins for data range"), which an untrained or
            # pruned network can have. Min/max handles it; the model records which one ran.
            if calibration == "minmax":
                raise
            print(f"{calibration} calibration failed ({exc}); using minmax", file=sys.stderr)
            run("minmax")
            used = f"minmax ({calibration} failed: {exc})"
    _copy_metadata(model, out, f"head and modules {list(fp32_modules)} FP32, {used}")
    return out


def _copy_metadata(source: Path, target: Path, fp32_parts: str) -> None:
    """Keep Ultralytics' metadata (names, stride, imgsz) and record how the model was made."""
    import onnx

    src = onnx.load(str(source), load_external_data=False)
    dst = onnx.load(str(target))
    meta = {p.key: p.value for p in src.metadata_props}
    meta["quantization"] = f"int8 static QDQ per-channel (onnxruntime), {fp32_parts}"
    del dst.metadata_props[:]
    for key, value in meta.items():
        dst.metadata_props.add(key=key, value=value)
    onnx.save(dst, str(target))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, type=Path, help="the FP32 .onnx (export step)")
    parser.add_argument("--out", required=True, type=Path, help="where to write the int8 .onnx")
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--square", action="store_true", help="calibrate on 640x640 inputs")
    parser.add_argument("--activation", choices=ACTIVATION_TYPES, default="uint8")
    parser.add_argument("--photo", action="append", type=Path, help="calibration photo(s)")
    parser.add_argument("--calibration", choices=CALIBRATIONS, default="percentile")
    parser.add_argument(
        "--fp32-modules",
        type=lambda text: tuple(int(i) for i in text.split(",") if i),
        default=FP32_MODULES,
        help="comma-separated /model.<i>/ modules kept FP32 (default: the sensitivity sweep's)",
    )
    args = parser.parse_args(argv)
    path = quantize_int8(
        args.model,
        args.out,
        photos=args.photo,
        img_size=args.imgsz,
        rect=not args.square,
        activation=args.activation,
        calibration=args.calibration,
        fp32_modules=args.fp32_modules,
    )
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
