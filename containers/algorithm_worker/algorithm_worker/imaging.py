"""Display windowing, overlays and montages: the pixel work shared by every algorithm."""

from __future__ import annotations

import hashlib
import math

import cv2
import numpy as np

from algorithm_worker.dicom_io import Slice

_MASK_COLOUR_BGR = np.array([0, 0, 255], dtype=np.float32)
_CONTOUR_COLOUR_BGR = (0, 255, 255)
_MASK_ALPHA = 0.4


def window_to_uint8(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """DICOM linear VOI function (PS3.3 C.11.2.1.2) onto 0..255."""
    values = values.astype(np.float64, copy=False)
    if width <= 1:
        return np.where(values < center - 0.5, 0, 255).astype(np.uint8)
    scaled = ((values - (center - 0.5)) / (width - 1) + 0.5) * 255.0
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def display_image(image: Slice) -> np.ndarray:
    """8-bit view of a slice: the file's own window, else the full data range."""
    if image.window is not None:
        center, width = image.window
    else:
        low, high = float(image.values.min()), float(image.values.max())
        center, width = (low + high) / 2, max(high - low + 1, 1.0)
    display = window_to_uint8(image.values, center, width)
    return 255 - display if image.inverted else display


def component_count(mask: np.ndarray) -> int:
    count, _labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    return int(count) - 1


def mask_digest(masks: list[np.ndarray]) -> str:
    """SHA-256 of the masks' shapes and bits: equal digests mean identical segmentations."""
    digest = hashlib.sha256()
    for mask in masks:
        digest.update(np.asarray(mask.shape, dtype=np.int64).tobytes())
        digest.update(np.packbits(mask.astype(bool)).tobytes())
    return digest.hexdigest()


def overlay(display: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The slice in grey, the mask tinted red and outlined in yellow (BGR, uint8)."""
    colour = cv2.cvtColor(display, cv2.COLOR_GRAY2BGR).astype(np.float32)
    selected = mask.astype(bool)
    colour[selected] = colour[selected] * (1 - _MASK_ALPHA) + _MASK_COLOUR_BGR * _MASK_ALPHA * 255
    result = np.clip(np.rint(colour), 0, 255).astype(np.uint8)
    contours, _ = cv2.findContours(
        selected.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE
    )
    cv2.drawContours(result, contours, -1, _CONTOUR_COLOUR_BGR, 1)
    return result


def montage(tiles: list[np.ndarray]) -> np.ndarray:
    """Tiles (in series order) on a near-square grid, left to right then top to bottom."""
    if len(tiles) == 1:
        return tiles[0]
    columns = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / columns)
    height = max(tile.shape[0] for tile in tiles)
    width = max(tile.shape[1] for tile in tiles)
    sheet = np.zeros((rows * height, columns * width, 3), dtype=np.uint8)
    for index, tile in enumerate(tiles):
        top, left = (index // columns) * height, (index % columns) * width
        sheet[top : top + tile.shape[0], left : left + tile.shape[1]] = tile
    return sheet


def encode_png(image: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return encoded.tobytes()
