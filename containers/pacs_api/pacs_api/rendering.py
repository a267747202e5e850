"""PNG previews with DICOM linear windowing (PS3.3 C.11.2.1.2)."""

from __future__ import annotations

import cv2
import numpy as np
from pydicom.dataset import FileDataset
from pydicom.pixels import apply_modality_lut

from pacs_api.dicom_files import first_number
from pacs_api.errors import InvalidQuery, UnreadablePixels

_COLOUR = {"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT"}


def window_to_uint8(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """Map modality values to 0..255 with the DICOM linear VOI function."""
    if width < 1:
        raise InvalidQuery("window_width must be at least 1")
    values = values.astype(np.float64, copy=False)
    if width == 1:
        return np.where(values < center - 0.5, 0, 255).astype(np.uint8)
    scaled = ((values - (center - 0.5)) / (width - 1) + 0.5) * 255.0
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def frame_pixels(ds: FileDataset, frame: int, instance_id: str) -> np.ndarray:
    if "PixelData" not in ds:
        raise UnreadablePixels(f"instance {instance_id} has no pixel data")
    try:
        pixels = ds.pixel_array
    except (ValueError, NotImplementedError, RuntimeError, AttributeError, TypeError) as exc:
        raise UnreadablePixels(
            f"instance {instance_id} pixel data cannot be decoded: {_short(exc)}"
        ) from exc
    frames = int(ds.get("NumberOfFrames") or 1)
    if frame >= frames:
        raise InvalidQuery(f"frame {frame} does not exist (the instance has {frames})")
    return pixels[frame] if frames > 1 else pixels


def render_png(
    ds: FileDataset,
    instance_id: str,
    *,
    window_center: float | None,
    window_width: float | None,
    frame: int = 0,
) -> bytes:
    pixels = frame_pixels(ds, frame, instance_id)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    if photometric in _COLOUR:
        image = cv2.cvtColor(_to_uint8_range(pixels), cv2.COLOR_RGB2BGR)
    elif photometric.startswith("MONOCHROME"):
        values = apply_modality_lut(pixels, ds).astype(np.float64)
        center = (
            window_center if window_center is not None else first_number(ds.get("WindowCenter"))
        )
        width = window_width if window_width is not None else first_number(ds.get("WindowWidth"))
        if center is None or width is None:
            low, high = float(values.min()), float(values.max())
            center = center if center is not None else (low + high) / 2
            width = width if width is not None else max(high - low + 1, 1.0)
        image = window_to_uint8(values, center, width)
        if photometric == "MONOCHROME1":
            image = 255 - image
    else:
        raise UnreadablePixels(f"photometric interpretation {photometric} is not supported")
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise UnreadablePixels(f"instance {instance_id} could not be encoded as PNG")
    return encoded.tobytes()


def _to_uint8_range(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels
    high = float(pixels.max()) or 1.0
    return np.clip(pixels.astype(np.float64) * 255.0 / high, 0, 255).astype(np.uint8)


def _short(exc: Exception) -> str:
    return str(exc).split(" - ")[0][:200] or type(exc).__name__
