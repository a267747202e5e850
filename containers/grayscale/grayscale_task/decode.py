"""Decode stage: bytes -> a pixel array the kernel accepts, refusing anything that is not a sound
JPEG or PNG before allocating its pixels.

Mode policy (what the output keeps):
- RGB, YCbCr and CMYK JPEG, RGB PNG, palette without transparency -> RGB -> 8-bit gray (L).
- Alpha (RGBA, LA, PA, palette with transparency) -> RGBA -> gray + alpha (LA), PNG only.
- 8-bit gray (L) and 1-bit -> L, unchanged.
- 16-bit gray PNG stays 16-bit gray (I;16). 16-bit colour PNG is reduced to 8 bits per channel by
  Pillow's decoder (it has no 16-bit RGB mode), so its output is 8-bit gray.
The EXIF orientation is read here and applied after conversion, on one channel instead of three.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from grayscale_task.errors import ImageRejected

# Only these decoders ever see the bytes: nothing else (GIF, TIFF, PSD, ...) is even tried.
_DECODERS = ("JPEG", "PNG")
_FORMAT_NAMES = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG"}
_ORIENTATION_TAG = 0x0112
_SIXTEEN_BIT_GRAY = {"I;16", "I;16B", "I;16L", "I"}


@dataclass(frozen=True, slots=True)
class DecodedImage:
    # HxW (uint8 L or uint16 I;16), HxWx2 (LA), HxWx3 (RGB) or HxWx4 (RGBA); C-contiguous.
    pixels: np.ndarray
    format: str  # "JPEG" | "PNG" (what the bytes are, whatever the key's extension says)
    mode: str  # the source mode as the file declares it, e.g. "RGB", "P", "I;16"
    width: int
    height: int
    orientation: int  # EXIF orientation 1-8 (1 = upright)

    @property
    def has_alpha(self) -> bool:
        return self.pixels.ndim == 3 and self.pixels.shape[2] in (2, 4)


def decode(data: bytes, *, max_pixels: int, jpeg_luma: bool = False) -> DecodedImage:
    image = _open(data, max_pixels=max_pixels)
    fmt = _FORMAT_NAMES[image.format or ""]
    source_mode = image.mode
    orientation = _orientation(image)
    if fmt == "JPEG" and jpeg_luma and image.mode in ("RGB", "YCbCr"):
        # libjpeg hands back its Y plane and skips YCbCr -> RGB entirely.
        image.draft("L", image.size)
    try:
        image.load()
        pixels = _kernel_ready(image)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRejected("decode", f"corrupt or truncated {fmt} image: {exc}") from exc
    finally:
        image.close()
    return DecodedImage(
        pixels=pixels,
        format=fmt,
        mode=source_mode,
        width=pixels.shape[1],
        height=pixels.shape[0],
        orientation=orientation,
    )


def _open(data: bytes, *, max_pixels: int) -> Image.ImageFile.ImageFile:
    """Parse the header only (Pillow decodes lazily) and check the dimensions it claims."""
    if not data:
        raise ImageRejected("decode", "input is empty (0 bytes)")
    # Pillow checks its own global limit at the same point (after the header, before pixels);
    # it is lifted for this call so the task's configured limit below is the one that applies
    # and the reason quotes it.
    pillow_limit = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=_DECODERS)
    except UnidentifiedImageError as exc:
        raise ImageRejected("decode", "not a JPEG or PNG image (unrecognised content)") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRejected("decode", f"unreadable image header: {exc}") from exc
    finally:
        Image.MAX_IMAGE_PIXELS = pillow_limit
    width, height = image.size
    if width <= 0 or height <= 0:
        image.close()
        raise ImageRejected("decode", f"image header declares an empty image ({width}x{height})")
    if width * height > max_pixels:
        image.close()
        raise ImageRejected(
            "decode",
            f"refused as a decompression bomb: header declares {width}x{height} = "
            f"{width * height} pixels, more than the {max_pixels} allowed",
        )
    if image.format not in _FORMAT_NAMES:
        image.close()
        raise ImageRejected("decode", f"unsupported image format {image.format}")
    return image


def _orientation(image: Image.Image) -> int:
    try:
        value = int(image.getexif().get(_ORIENTATION_TAG, 1))
    except (TypeError, ValueError, SyntaxError, OSError):
        return 1  # unreadable EXIF is not a reason to refuse the pixels
    return value if 1 <= value <= 8 else 1


def _kernel_ready(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode in ("L", "RGB", "RGBA", "LA") or mode in _SIXTEEN_BIT_GRAY:
        converted = image
    elif mode == "1":
        converted = image.convert("L")
    elif mode in ("P", "PA"):
        has_transparency = mode == "PA" or "transparency" in image.info
        converted = image.convert("RGBA" if has_transparency else "RGB")
    elif mode in ("CMYK", "YCbCr"):
        converted = image.convert("RGB")
    else:
        raise ImageRejected("decode", f"unsupported pixel mode {mode}")

    if converted.mode in _SIXTEEN_BIT_GRAY:
        array = np.asarray(converted)
        if array.dtype != np.uint16:
            array = np.clip(array, 0, 65535).astype(np.uint16)
        return np.ascontiguousarray(array, dtype=np.uint16)
    return np.ascontiguousarray(np.asarray(converted), dtype=np.uint8)
