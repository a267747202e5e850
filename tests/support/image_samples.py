"""Image inputs for the image pipeline's tests (unit, integration and e2e) and its benchmark.

Good inputs are real photos shipped by Ultralytics (``bus.jpg``, ``zidane.jpg``) when it is
installed, else a synthetic photo-like image. Bad inputs are every input the pipeline refuses,
each with the stage that must refuse it and words its reason must contain, so every suite checks
the same thing.
"""

from __future__ import annotations

import importlib.util
import io
import struct
import sys
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

import numpy as np
from PIL import Image

# A key with spaces, an apostrophe and non-ASCII letters (S3 sends it URL-encoded).
UNICODE_KEY = "uploads/vacances d'été 2025/plage à midi (ß) 日本.jpg"


def ultralytics_asset(name: str) -> Path | None:
    """Path of a photo shipped in the ``ultralytics`` package, without importing it (slow)."""
    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "assets" / name
    return path if path.is_file() else None


def synthetic_photo(height: int = 1080, width: int = 1920, seed: int = 7) -> np.ndarray:
    """Gradients, edges and sensor-like noise: it compresses like a photo, unlike flat colour."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 128 + 100 * np.sin(x / 97.0) * np.cos(y / 143.0)
    g = 128 + 90 * np.sin((x + y) / 211.0)
    b = 255 * (x / max(width - 1, 1)) * (1 - y / max(height - 1, 1))
    rgb = np.stack([r, g, b], axis=-1)
    rgb[(x // 160 + y // 120) % 5 == 0] *= 0.55  # hard edges, like objects in a scene
    rgb += rng.normal(0, 6, rgb.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8)


@cache
def photo_jpeg() -> bytes:
    """A real JPEG photo (Ultralytics' bus.jpg, 810x1080) or a synthetic 1080p one."""
    path = ultralytics_asset("bus.jpg")
    if path is not None:
        return path.read_bytes()
    return encode(Image.fromarray(synthetic_photo()), "JPEG", quality=90)


@cache
def photo_png() -> bytes:
    """A real photo as PNG (Ultralytics' zidane.jpg re-encoded, 1280x720) or a synthetic one."""
    path = ultralytics_asset("zidane.jpg")
    image = Image.open(path) if path is not None else Image.fromarray(synthetic_photo(720, 1280))
    return encode(image.convert("RGB"), "PNG")


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def reference_gray(rgb: np.ndarray) -> np.ndarray:
    """OpenCV's 8-bit RGB->gray, the kernel's documented formula, in plain numpy."""
    c = rgb[..., :3].astype(np.uint32)
    return ((9798 * c[..., 0] + 19235 * c[..., 1] + 3735 * c[..., 2] + 16384) >> 15).astype(
        np.uint8
    )


def jpeg_with_orientation(rgb: np.ndarray, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(Image.fromarray(rgb), "JPEG", quality=95, exif=exif.tobytes())


# --- bad inputs ---------------------------------------------------------------------------------


def not_an_image() -> bytes:
    """A text file that somebody renamed to .jpg."""
    return b"Quarterly report\nThis is plain text, not a picture.\n" * 20


def truncated_jpeg() -> bytes:
    """A real JPEG cut in the middle of its entropy-coded data."""
    data = photo_jpeg()
    return data[: len(data) // 2]


def truncated_png() -> bytes:
    data = photo_png()
    return data[: len(data) // 2]


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header claiming ``width`` x ``height`` RGB pixels (30 GB decoded), followed by
    a few compressed rows of zeros: a decoder that trusted the header would allocate it all."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + 3 * width) * 4, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", rows)
        + _png_chunk(b"IEND", b"")
    )


def gif_image() -> bytes:
    return encode(Image.fromarray(synthetic_photo(64, 64)).convert("P"), "GIF")


@dataclass(frozen=True)
class BadInput:
    """One bad upload: where it goes, what it holds, who must refuse it and what they must say."""

    name: str
    key: str
    data: bytes
    stage: str  # "dispatch" (never reaches a task) or "decode" (the task refuses it)
    reason_contains: str


def bad_inputs() -> list[BadInput]:
    return [
        BadInput(
            "not_an_image", "uploads/report.jpg", not_an_image(), "decode", "not a JPEG or PNG"
        ),
        BadInput("truncated_jpeg", "uploads/cut.jpg", truncated_jpeg(), "decode", "truncated"),
        BadInput("zero_bytes", "uploads/empty.jpg", b"", "dispatch", "empty"),
        BadInput("png_bomb", "uploads/bomb.png", png_bomb(), "decode", "decompression bomb"),
        BadInput("gif", "uploads/animation.gif", gif_image(), "dispatch", "unsupported extension"),
    ]


# --- the grayscale container's package, imported the way its image runs it --------------------

GRAYSCALE_TASK_DIR = Path(__file__).resolve().parents[2] / "containers" / "grayscale"


def grayscale_task_module(name: str) -> ModuleType:
    """Import ``grayscale_task.<name>`` with ``containers/grayscale`` on sys.path (its PYTHONPATH
    in the image and in the local cloud)."""
    if str(GRAYSCALE_TASK_DIR) not in sys.path:
        sys.path.insert(0, str(GRAYSCALE_TASK_DIR))
    return importlib.import_module(f"grayscale_task.{name}")
