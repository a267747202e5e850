"""RGB(A)/BGR(A) 8-bit images to 8-bit gray with the native C/OpenMP kernel in ``native/src``.

The result is bit-exact with OpenCV's ``cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)``:
``Y = (9798*R + 19235*G + 3735*B + 16384) >> 15`` on every CPU and for every thread count.
This module checks arguments with messages in numpy's terms; the extension re-checks what
memory safety depends on and releases the GIL while it converts.
"""

from __future__ import annotations

import operator
from typing import Literal

import numpy as np

from grayscale_kernel import _native

__all__ = ["Order", "best_isa", "effective_threads", "max_threads", "to_gray"]

Order = Literal["RGB", "BGR"]
_ORDER_CODES: dict[str, int] = {"RGB": 0, "BGR": 1}


def to_gray(
    image: np.ndarray,
    *,
    order: Order = "RGB",
    threads: int | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Convert a uint8 image to a new (or the given) uint8 ``(height, width)`` gray array.

    ``image`` is ``(H, W, 3)`` or ``(H, W, 4)`` (the 4th channel is ignored) in ``order``, with
    pixels contiguous within each row and any row stride (cropped or flipped views work).
    ``(H, W)`` and ``(H, W, 1)`` images are already gray and come back as a 2-D copy.
    ``threads=None`` uses OpenMP's default team (``max_threads()``); the output does not depend
    on it. ``out``, when given, must be a writable uint8 ``(H, W)`` array with contiguous rows
    that does not overlap ``image``; it is filled and returned.

    Raises ``TypeError`` for a non-array or non-uint8 ``image``/``out`` and a non-integer
    ``threads``; ``ValueError`` for any other unsupported shape, layout or argument value.
    """
    src = _checked_image(image)
    order_code = _checked_order(order)
    team = _checked_threads(threads)
    height, width = src.shape[0], src.shape[1]
    dst = np.empty((height, width), np.uint8) if out is None else _checked_out(out, src)
    if src.ndim == 2 or src.shape[2] == 1:
        # Already gray: pass the values through (a copy, so callers may write to the result).
        np.copyto(dst, src.reshape(height, width) if src.ndim == 3 else src)
        return dst
    _native.convert(src, dst, order=order_code, threads=team)
    return dst


def max_threads() -> int:
    """OpenMP's default team size (``OMP_NUM_THREADS`` or the CPU count); 1 without OpenMP."""
    return _native.max_threads()


def effective_threads(height: int, width: int, threads: int | None = None) -> int:
    """How many threads ``to_gray`` uses for an image of this size (small images use fewer)."""
    return _native.effective_threads(height, width, _checked_threads(threads))


def best_isa() -> str:
    """The path used on this CPU: ``"avx512"``, ``"avx2"``, ``"neon"`` (arm64) or ``"scalar"``."""
    return _native.best_isa()


def _checked_image(image: object) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy.ndarray, not {type(image).__name__}")
    if image.dtype != np.uint8:
        raise TypeError(f"image must have dtype uint8, not {image.dtype}")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return image
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(
            "image must have shape (height, width, 3 or 4), or (height, width[, 1]) if gray; "
            f"got {image.shape}"
        )
    channels = image.shape[2]
    height, width = image.shape[0], image.shape[1]
    if image.size == 0:
        return image  # nothing to read; numpy gives empty arrays arbitrary strides
    if image.strides[2] != 1 or (width > 1 and image.strides[1] != channels):
        raise ValueError(
            f"image pixels must be contiguous within a row: expected strides (any, {channels}, 1), "
            f"got {image.strides}; use numpy.ascontiguousarray(image)"
        )
    if height > 1 and abs(image.strides[0]) < width * channels:
        raise ValueError(f"image rows overlap: row stride {image.strides[0]} < {width * channels}")
    return image


def _checked_order(order: object) -> int:
    if not isinstance(order, str) or order not in _ORDER_CODES:
        raise ValueError(f"order must be 'RGB' or 'BGR', not {order!r}")
    return _ORDER_CODES[order]


def _checked_threads(threads: object) -> int:
    """0 asks the extension for OpenMP's default."""
    if threads is None:
        return 0
    if isinstance(threads, bool):
        raise TypeError("threads must be an int or None, not bool")
    try:
        count = operator.index(threads)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"threads must be an int or None, not {type(threads).__name__}") from None
    if not 1 <= count <= 2**31 - 1:
        raise ValueError(f"threads must be >= 1 (or None for the OpenMP default), not {count}")
    return count


def _checked_out(out: object, src: np.ndarray) -> np.ndarray:
    shape = (src.shape[0], src.shape[1])
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray or None, not {type(out).__name__}")
    if out.dtype != np.uint8:
        raise TypeError(f"out must have dtype uint8, not {out.dtype}")
    if out.shape != shape:
        raise ValueError(f"out must have shape {shape} (image height, width), not {out.shape}")
    if not out.flags.writeable:
        raise ValueError("out must be writable")
    if out.size == 0:
        return out
    if shape[1] > 1 and out.strides[1] != 1:
        raise ValueError(f"out rows must be contiguous: strides (any, 1), not {out.strides}")
    if shape[0] > 1 and abs(out.strides[0]) < shape[1]:
        raise ValueError(f"out rows overlap: row stride {out.strides[0]} < {shape[1]}")
    if np.may_share_memory(out, src):
        raise ValueError("out must not share memory with image")
    return out
