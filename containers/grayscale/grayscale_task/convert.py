"""Convert stage: colour pixels -> gray with the native C/OpenMP kernel, alpha carried over, then
the EXIF orientation applied (on the single gray channel, a third of the work of rotating RGB)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

import grayscale_kernel
from grayscale_task.decode import DecodedImage

_TRANSPOSE_FOR_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True, slots=True)
class GrayImage:
    image: Image.Image  # mode L, LA or I;16, upright
    threads: int  # threads the kernel actually used (small images use fewer; none ran: 1)


def resolve_threads(requested: int) -> int:
    """0 means all the cores the kernel may use; more than it has is capped."""
    available = max(1, int(grayscale_kernel.max_threads()))
    return available if requested <= 0 else min(requested, available)


def convert(decoded: DecodedImage, *, threads: int) -> GrayImage:
    pixels = decoded.pixels
    alpha: np.ndarray | None = None
    used = 1
    if pixels.ndim == 2:
        gray = pixels  # already gray (L, I;16, or JPEG decoded straight to luma)
    elif pixels.shape[2] == 2:
        gray = np.ascontiguousarray(pixels[:, :, 0])
        alpha = np.ascontiguousarray(pixels[:, :, 1])
    else:
        gray = grayscale_kernel.to_gray(pixels, order="RGB", threads=threads)
        used = grayscale_kernel.effective_threads(pixels.shape[0], pixels.shape[1], threads)
        if pixels.shape[2] == 4:
            alpha = np.ascontiguousarray(pixels[:, :, 3])

    image = Image.fromarray(gray)
    if alpha is not None:
        image = Image.merge("LA", (image, Image.fromarray(alpha)))
    transpose = _TRANSPOSE_FOR_ORIENTATION.get(decoded.orientation)
    if transpose is not None:
        image = image.transpose(transpose)
    return GrayImage(image=image, threads=used)
