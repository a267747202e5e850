"""Real sample data the demo sends through the pipelines: photos shipped by Ultralytics, DICOM
files shipped by pydicom (seeded by the PACS API's own seeding code)."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

from PIL import Image


def ultralytics_photo(name: str) -> Path:
    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the demo's photos come with the ultralytics package: run `make demo`")
    return Path(next(iter(spec.submodule_search_locations))) / "assets" / name


def photos() -> list[tuple[str, bytes]]:
    """A JPEG and a PNG photo (zidane.jpg re-encoded), under the keys the demo uploads."""
    bus = ultralytics_photo("bus.jpg").read_bytes()
    png = io.BytesIO()
    Image.open(ultralytics_photo("zidane.jpg")).save(png, format="PNG")
    return [("demo/bus.jpg", bus), ("demo/zidane.png", png.getvalue())]
