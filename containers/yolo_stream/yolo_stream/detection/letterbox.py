"""Letterboxing exactly as Ultralytics' ``LetterBox`` does it (8.4), so ONNX Runtime sees the same
tensor Ultralytics' own predictor builds and the boxes agree."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PAD_VALUE = 114


@dataclass(frozen=True)
class Letterboxed:
    image: np.ndarray  # HxWx3 uint8, the network input size
    source_shape: tuple[int, int]  # (height, width) of the frame before letterboxing


def letterbox_shape(
    source_shape: tuple[int, int], size: tuple[int, int], *, rect: bool, stride: int = 32
) -> tuple[int, int]:
    """Network input (height, width) for a frame: ``size`` itself, or with ``rect`` the smallest
    stride-multiple rectangle inside it (a 16:9 frame at 640 becomes 384x640 instead of 640x640)."""
    h, w = source_shape
    r = min(size[0] / h, size[1] / w)
    new_w, new_h = max(round(w * r), 1), max(round(h * r), 1)
    if not rect:
        return size
    return new_h + (size[0] - new_h) % stride, new_w + (size[1] - new_w) % stride


def letterbox(
    image: np.ndarray, size: tuple[int, int], *, rect: bool, stride: int = 32
) -> Letterboxed:
    """Resize keeping the aspect ratio, then pad (centred, value 114) to the network shape."""
    h, w = image.shape[:2]
    r = min(size[0] / h, size[1] / w)
    new_w, new_h = max(round(w * r), 1), max(round(h * r), 1)
    dw, dh = size[1] - new_w, size[0] - new_h
    if rect:
        dw, dh = dw % stride, dh % stride
    half_w, half_h = dw / 2, dh / 2
    # Ultralytics' -0.1/+0.1 puts the odd pixel at the bottom/right; copy it so boxes line up.
    top, bottom = round(half_h - 0.1), round(half_h + 0.1)
    left, right = round(half_w - 0.1), round(half_w + 0.1)
    if (w, h) != (new_w, new_h):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    padded = cv2.copyMakeBorder(
        image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3
    )
    return Letterboxed(image=padded, source_shape=(h, w))


def to_tensor(letterboxed: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """BGR HxWx3 uint8 -> RGB 1x3xHxW in [0, 1], contiguous (what YOLO models take)."""
    chw = letterboxed[..., ::-1].transpose(2, 0, 1)
    tensor: np.ndarray = np.ascontiguousarray(chw, dtype=dtype)
    tensor *= 1.0 / 255.0
    return tensor[None]
