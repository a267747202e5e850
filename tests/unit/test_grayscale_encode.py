"""Encode stage: the gray image in the input's own format, lossless for PNG."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.support import image_samples as samples

encode_stage = samples.grayscale_task_module("encode")


def _reopen(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize(
    "image",
    [
        Image.fromarray(samples.reference_gray(samples.synthetic_photo(60, 80))),
        Image.fromarray(samples.synthetic_photo(60, 80)).convert("LA"),
        Image.fromarray((np.arange(60 * 80).reshape(60, 80) * 13).astype(np.uint16)),
    ],
    ids=["gray", "gray-alpha", "gray-16bit"],
)
def test_png_output_is_lossless_in_every_gray_mode(image: Image.Image) -> None:
    # Given a gray image in one of the output modes
    # When it is encoded as PNG
    encoded = encode_stage.encode(image, "PNG", jpeg_quality=90, png_compress_level=6)

    # Then reading it back gives exactly the same pixels and mode
    assert encoded.content_type == "image/png"
    back = _reopen(encoded.data)
    assert back.format == "PNG"
    assert back.mode == image.mode
    np.testing.assert_array_equal(np.asarray(back), np.asarray(image))


@pytest.mark.parametrize("level", [1, 9])
def test_png_compress_level_changes_size_not_pixels(level: int) -> None:
    # Given a real photo in gray
    gray = Image.open(io.BytesIO(samples.photo_png())).convert("L")

    # When it is encoded at another zlib level
    encoded = encode_stage.encode(gray, "PNG", jpeg_quality=90, png_compress_level=level)

    # Then the pixels are the same
    np.testing.assert_array_equal(np.asarray(_reopen(encoded.data)), np.asarray(gray))


def test_jpeg_output_is_gray_jpeg_close_to_its_input() -> None:
    # Given a real photo in gray
    gray = Image.open(io.BytesIO(samples.photo_jpeg())).convert("L")

    # When it is encoded as JPEG
    encoded = encode_stage.encode(gray, "JPEG", jpeg_quality=90, png_compress_level=6)

    # Then it is a one-channel JPEG of the same size, visually the same (lossy)
    assert encoded.content_type == "image/jpeg"
    back = _reopen(encoded.data)
    assert (back.format, back.mode, back.size) == ("JPEG", "L", gray.size)
    diff = np.abs(np.asarray(back, dtype=int) - np.asarray(gray, dtype=int))
    assert diff.mean() < 2.0


def test_higher_jpeg_quality_gives_a_closer_output() -> None:
    # Given a gray image never compressed before (re-encoding a JPEG at its own quantisation
    # is nearly lossless, which would hide the effect)
    gray = Image.fromarray(samples.reference_gray(samples.synthetic_photo(240, 320)))
    reference = np.asarray(gray, dtype=int)

    # When it is encoded at two qualities
    def error(quality: int) -> float:
        data = encode_stage.encode(gray, "JPEG", jpeg_quality=quality, png_compress_level=6).data
        return float(np.abs(np.asarray(_reopen(data), dtype=int) - reference).mean())

    # Then the better quality is closer to the input
    assert error(95) < error(50)
