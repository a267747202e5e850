"""Convert stage with the native kernel: bit-exact gray on real photos, alpha and 16-bit carried
over, EXIF orientation applied exactly as Pillow's exif_transpose would."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from tests.support import image_samples as samples

pytest.importorskip("grayscale_kernel", reason="native kernel not built: pip install ./native")
decode_stage = samples.grayscale_task_module("decode")
convert_stage = samples.grayscale_task_module("convert")


def _decode(data: bytes):
    return decode_stage.decode(data, max_pixels=100_000_000)


@pytest.mark.parametrize("photo", [samples.photo_jpeg, samples.photo_png], ids=["jpeg", "png"])
def test_real_photo_gray_is_bit_exact_with_the_reference_formula(photo) -> None:
    # Given a decoded real photo
    decoded = _decode(photo())

    # When it is converted
    gray = convert_stage.convert(decoded, threads=convert_stage.resolve_threads(0))

    # Then every pixel is OpenCV's formula applied to the decoded RGB
    assert gray.image.mode == "L"
    np.testing.assert_array_equal(np.asarray(gray.image), samples.reference_gray(decoded.pixels))


def test_thread_count_does_not_change_the_result() -> None:
    # Given a decoded photo
    decoded = _decode(samples.photo_jpeg())

    # When it is converted on one thread and on all of them
    one = np.asarray(convert_stage.convert(decoded, threads=1).image)
    every = np.asarray(
        convert_stage.convert(decoded, threads=convert_stage.resolve_threads(0)).image
    )

    # Then the outputs are identical
    np.testing.assert_array_equal(one, every)


def test_reported_threads_are_the_ones_the_kernel_used() -> None:
    # Given a tiny image (not worth waking a second thread) and a real photo
    tiny = _decode(samples.encode(Image.fromarray(samples.synthetic_photo(8, 8)), "PNG"))
    photo = _decode(samples.photo_jpeg())
    most = convert_stage.resolve_threads(0)

    # When both are converted with every thread allowed
    # Then the tiny one reports one thread, the photo no more than allowed
    assert convert_stage.convert(tiny, threads=most).threads == 1
    assert 1 <= convert_stage.convert(photo, threads=most).threads <= most


def test_alpha_is_carried_over() -> None:
    # Given an RGBA image with a gradient of transparency
    rgb = samples.synthetic_photo(40, 50)
    alpha = np.tile(np.linspace(0, 255, 50, dtype=np.uint8), (40, 1))
    rgba = np.dstack([rgb, alpha])
    decoded = _decode(samples.encode(Image.fromarray(rgba, "RGBA"), "PNG"))

    # When it is converted
    gray = convert_stage.convert(decoded, threads=1)

    # Then the output is gray + the same alpha
    assert gray.image.mode == "LA"
    out = np.asarray(gray.image)
    np.testing.assert_array_equal(out[..., 0], samples.reference_gray(rgb))
    np.testing.assert_array_equal(out[..., 1], alpha)


def test_gray_alpha_input_is_passed_through() -> None:
    # Given an LA PNG
    la = Image.fromarray(samples.synthetic_photo(30, 30)).convert("LA")
    decoded = _decode(samples.encode(la, "PNG"))

    # When / Then it comes out unchanged
    out = convert_stage.convert(decoded, threads=1).image
    np.testing.assert_array_equal(np.asarray(out), np.asarray(la))


def test_sixteen_bit_gray_stays_sixteen_bit() -> None:
    # Given a 16-bit gray PNG
    values = (np.arange(32 * 32, dtype=np.uint32).reshape(32, 32) * 61).astype(np.uint16)
    decoded = _decode(samples.encode(Image.fromarray(values), "PNG"))

    # When it is converted
    out = convert_stage.convert(decoded, threads=1).image

    # Then it keeps its 16 bits
    assert out.mode == "I;16"
    np.testing.assert_array_equal(np.asarray(out), values)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_exif_transpose(orientation: int) -> None:
    # Given a non-square JPEG with an EXIF orientation
    data = samples.jpeg_with_orientation(samples.synthetic_photo(24, 40), orientation)
    decoded = _decode(data)

    # When it is converted (orientation applied on the gray result)
    out = np.asarray(convert_stage.convert(decoded, threads=1).image)

    # Then it equals rotating the colour image first (what a viewer shows), then converting
    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    np.testing.assert_array_equal(out, samples.reference_gray(np.asarray(upright)))


def test_threads_zero_means_every_core_and_requests_are_capped() -> None:
    # Given the kernel's maximum
    import grayscale_kernel

    most = grayscale_kernel.max_threads()

    # When / Then 0 means all, and more than available is capped
    assert convert_stage.resolve_threads(0) == most
    assert convert_stage.resolve_threads(1) == 1
    assert convert_stage.resolve_threads(most + 100) == most
