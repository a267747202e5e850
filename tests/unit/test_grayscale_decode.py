"""Decode stage: real photos and every pixel mode the pipeline accepts, and every bad input
refused with a clear reason before its pixels are allocated."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.support import image_samples as samples

decode_stage = samples.grayscale_task_module("decode")
errors = samples.grayscale_task_module("errors")
LIMIT = 100_000_000


def _decode(data: bytes, **kwargs):
    return decode_stage.decode(data, max_pixels=kwargs.pop("max_pixels", LIMIT), **kwargs)


def test_real_jpeg_decodes_to_rgb() -> None:
    # Given a real JPEG photo
    data = samples.photo_jpeg()
    expected = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))

    # When it is decoded
    decoded = _decode(data)

    # Then the pixels are Pillow's RGB decode, ready for the kernel
    assert decoded.format == "JPEG"
    assert decoded.mode == "RGB"
    assert decoded.pixels.dtype == np.uint8
    assert decoded.pixels.flags.c_contiguous
    np.testing.assert_array_equal(decoded.pixels, expected)
    assert (decoded.width, decoded.height) == (expected.shape[1], expected.shape[0])


def test_real_png_decodes_to_rgb() -> None:
    # Given a real photo stored as PNG
    data = samples.photo_png()

    # When it is decoded
    decoded = _decode(data)

    # Then it is RGB with the photo's dimensions
    assert decoded.format == "PNG"
    assert decoded.pixels.shape == (decoded.height, decoded.width, 3)


@pytest.mark.parametrize(
    ("build", "shape_suffix", "dtype"),
    [
        (lambda rgb: Image.fromarray(rgb).convert("P"), (3,), np.uint8),
        (lambda rgb: Image.fromarray(rgb).convert("RGBA"), (4,), np.uint8),
        (lambda rgb: Image.fromarray(rgb).convert("LA"), (2,), np.uint8),
        (lambda rgb: Image.fromarray(rgb).convert("L"), (), np.uint8),
        (lambda rgb: Image.fromarray(rgb).convert("1"), (), np.uint8),
        (lambda rgb: Image.fromarray(rgb[..., 0].astype(np.uint16) * 257), (), np.uint16),
    ],
    ids=["palette", "rgba", "gray-alpha", "gray", "bilevel", "gray-16bit"],
)
def test_png_modes_become_kernel_ready_arrays(build, shape_suffix, dtype) -> None:
    # Given a PNG in one of the modes a user may upload
    rgb = samples.synthetic_photo(48, 64)
    data = samples.encode(build(rgb), "PNG")

    # When it is decoded
    decoded = _decode(data)

    # Then the array has the layout the convert stage expects
    assert decoded.pixels.shape == (48, 64, *shape_suffix)
    assert decoded.pixels.dtype == dtype


def test_palette_with_transparency_keeps_its_alpha() -> None:
    # Given a palette PNG whose colour 0 is transparent
    image = Image.fromarray(samples.synthetic_photo(32, 32)).convert("P")
    data = samples.encode(image, "PNG", transparency=0)

    # When it is decoded
    decoded = _decode(data)

    # Then it carries an alpha channel, transparent exactly where index 0 was
    assert decoded.has_alpha
    expected_alpha = np.where(np.asarray(image) == 0, 0, 255)
    np.testing.assert_array_equal(decoded.pixels[..., 3], expected_alpha)


def test_sixteen_bit_gray_keeps_every_bit() -> None:
    # Given a 16-bit gray PNG using the full range
    values = (np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) * 16).astype(np.uint16)
    data = samples.encode(Image.fromarray(values), "PNG")

    # When it is decoded
    decoded = _decode(data)

    # Then the values are unchanged
    np.testing.assert_array_equal(decoded.pixels, values)


def test_cmyk_jpeg_is_converted_to_rgb() -> None:
    # Given a CMYK JPEG (as print workflows produce)
    cmyk = Image.fromarray(samples.synthetic_photo(40, 40)).convert("CMYK")
    data = samples.encode(cmyk, "JPEG", quality=95)

    # When it is decoded
    decoded = _decode(data)

    # Then the kernel gets RGB
    assert decoded.mode == "CMYK"
    assert decoded.pixels.shape == (40, 40, 3)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_read(orientation: int) -> None:
    # Given a JPEG carrying an EXIF orientation
    data = samples.jpeg_with_orientation(samples.synthetic_photo(24, 40), orientation)

    # When it is decoded
    decoded = _decode(data)

    # Then the orientation is known (applied after conversion) and the pixels are as stored
    assert decoded.orientation == orientation
    assert decoded.pixels.shape == (24, 40, 3)


def test_jpeg_luma_decode_gives_one_channel_close_to_rgb_conversion() -> None:
    # Given a real JPEG photo
    data = samples.photo_jpeg()

    # When it is decoded straight to luma, and the usual way
    luma = _decode(data, jpeg_luma=True)
    rgb = _decode(data)

    # Then luma is one channel of the same size, close to the formula on RGB but not identical
    # (RGB is clipped after the decoder's YCbCr->RGB rounding; luma is the stored Y itself)
    assert luma.pixels.shape == rgb.pixels.shape[:2]
    diff = np.abs(luma.pixels.astype(int) - samples.reference_gray(rgb.pixels).astype(int))
    assert diff.mean() < 0.5
    assert np.percentile(diff, 99) <= 3


@pytest.mark.parametrize("bad", samples.bad_inputs(), ids=lambda bad: bad.name)
def test_bad_inputs_are_refused_with_a_clear_reason(bad: samples.BadInput) -> None:
    # Given a bad upload that reached the task (the dispatcher refuses some before that)
    # When it is decoded
    with pytest.raises(errors.ImageRejected) as caught:
        _decode(bad.data)

    # Then it is rejected at decode, saying why
    assert caught.value.stage == "decode"
    expected = "empty" if bad.name == "zero_bytes" else bad.reason_contains
    if bad.name == "gif":
        expected = "not a JPEG or PNG"
    assert expected in caught.value.reason


def test_truncated_png_is_refused() -> None:
    # Given a PNG cut in half
    # When / Then it is rejected as truncated
    with pytest.raises(errors.ImageRejected, match="truncated"):
        _decode(samples.truncated_png())


def test_bomb_is_refused_from_its_header_with_the_configured_limit() -> None:
    # Given a PNG header claiming 100000x100000 pixels (30 GB decoded)
    data = samples.png_bomb()

    # When it is decoded
    with pytest.raises(errors.ImageRejected) as caught:
        _decode(data)

    # Then the header alone refuses it (a decode would need 30 GB), quoting our limit
    assert "decompression bomb" in caught.value.reason
    assert "100000x100000" in caught.value.reason
    assert str(LIMIT) in caught.value.reason
    assert Image.MAX_IMAGE_PIXELS is not None  # Pillow's own guard is restored afterwards


def test_pixel_limit_is_configurable() -> None:
    # Given a real photo and a limit just below its pixel count
    decoded = _decode(samples.photo_jpeg())
    limit = decoded.width * decoded.height - 1

    # When / Then it is refused
    with pytest.raises(errors.ImageRejected, match="decompression bomb"):
        _decode(samples.photo_jpeg(), max_pixels=limit)
