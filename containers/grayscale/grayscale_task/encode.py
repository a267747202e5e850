"""Encode stage: the gray image in the input's own format. No metadata is carried over: the
orientation is already applied, an RGB ICC profile would be wrong for gray, and EXIF may hold
location data nobody asked to copy."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}


@dataclass(frozen=True, slots=True)
class EncodedImage:
    data: bytes
    format: str
    content_type: str


def encode(
    image: Image.Image, fmt: str, *, jpeg_quality: int, png_compress_level: int
) -> EncodedImage:
    buffer = io.BytesIO()
    if fmt == "JPEG":
        # JPEG has no alpha and no 16-bit: decode only lets L reach here for a JPEG input.
        image.save(buffer, "JPEG", quality=jpeg_quality)
    elif fmt == "PNG":
        image.save(buffer, "PNG", compress_level=png_compress_level)
    else:
        raise ValueError(f"no encoder for {fmt}")
    return EncodedImage(data=buffer.getvalue(), format=fmt, content_type=CONTENT_TYPES[fmt])
