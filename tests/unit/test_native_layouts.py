"""The grayscale_kernel API: strided views, outputs, pass-through of gray input, and a clear
error for every input it cannot take."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest

from grayscale_kernel import _native, to_gray


def random_image(height: int, width: int, channels: int, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, channels), dtype=np.uint8)


def opencv_gray(image: np.ndarray) -> np.ndarray:
    code = cv2.COLOR_RGB2GRAY if image.shape[2] == 3 else cv2.COLOR_RGBA2GRAY
    return cv2.cvtColor(np.ascontiguousarray(image), code)


@pytest.mark.parametrize("channels", [3, 4])
def test_cropped_view_is_converted_in_place_of_a_copy(channels: int) -> None:
    # Given a crop of a larger image: rows longer than the crop, first pixel mid-buffer
    big = random_image(120, 301, channels)
    crop = big[17:99, 5:270]
    assert not crop.flags.c_contiguous

    # When converted
    gray = to_gray(crop)

    # Then the result is the crop's gray values
    assert np.array_equal(gray, opencv_gray(crop))


@pytest.mark.parametrize("channels", [3, 4])
def test_flipped_view_with_negative_row_stride(channels: int) -> None:
    # Given a vertically flipped view (negative row stride)
    image = random_image(90, 77, channels)
    flipped = image[::-1]
    assert flipped.strides[0] < 0

    # When converted with several threads
    gray = to_gray(flipped, threads=2)

    # Then it is the flipped gray image
    assert np.array_equal(gray, opencv_gray(image)[::-1])


def test_padded_rows_from_a_raw_buffer() -> None:
    # Given a frame whose rows are padded to 64 bytes, as decoders and cameras deliver them
    width, height, stride = 50, 20, 192
    raw = np.random.default_rng(5).integers(0, 256, height * stride, dtype=np.uint8)
    frame = np.lib.stride_tricks.as_strided(
        raw, shape=(height, width, 3), strides=(stride, 3, 1), writeable=False
    )

    # When converted
    gray = to_gray(frame)

    # Then the padding is skipped and the values are right
    assert np.array_equal(gray, opencv_gray(frame))


def test_output_into_a_strided_view_leaves_the_rest_untouched() -> None:
    # Given an image and an output view into a larger, pre-filled canvas
    image = random_image(40, 60, 3)
    canvas = np.full((50, 80), 7, np.uint8)
    view = canvas[5:45, 10:70]

    # When converting into the view
    returned = to_gray(image, out=view)

    # Then the view holds the result, is returned, and the canvas outside it is unchanged
    assert returned is view
    assert np.array_equal(view, opencv_gray(image))
    outside = canvas.copy()
    outside[5:45, 10:70] = 7
    assert np.all(outside == 7)


@pytest.mark.parametrize("shape", [(0, 5, 3), (4, 0, 3), (0, 0, 4)])
def test_empty_image_gives_an_empty_result(shape: tuple[int, int, int]) -> None:
    # Given / When
    gray = to_gray(np.zeros(shape, np.uint8))

    # Then
    assert gray.shape == shape[:2]
    assert gray.dtype == np.uint8


@pytest.mark.parametrize("shape", [(31, 17), (31, 17, 1)])
def test_gray_input_passes_through_as_a_2d_copy(shape: tuple[int, ...]) -> None:
    # Given an image that is already gray
    image = np.random.default_rng(9).integers(0, 256, shape, dtype=np.uint8)

    # When converted, with any order
    gray = to_gray(image, order="BGR")

    # Then the same values come back as a new (H, W) array
    assert gray.shape == (31, 17)
    assert np.array_equal(gray, image.reshape(31, 17))
    assert not np.shares_memory(gray, image)


def test_gray_input_passes_through_into_out() -> None:
    # Given a strided gray view and an output array
    image = np.random.default_rng(4).integers(0, 256, (20, 40), dtype=np.uint8)[:, ::2]
    out = np.zeros((20, 20), np.uint8)

    # When / Then
    assert to_gray(image, out=out) is out
    assert np.array_equal(out, image)


def test_read_only_input_is_accepted() -> None:
    # Given a read-only image
    image = random_image(10, 10, 3)
    image.flags.writeable = False

    # When / Then
    assert np.array_equal(to_gray(image), opencv_gray(image))


def test_concurrent_calls_from_python_threads_are_independent() -> None:
    # Given different images converted at once from several Python threads (the GIL is released)
    images = [random_image(300, 400, 3, seed=s) for s in range(8)]

    # When
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda im: to_gray(im, threads=2), images))

    # Then each result belongs to its own image
    for image, result in zip(images, results, strict=True):
        assert np.array_equal(result, opencv_gray(image))


GOOD = np.zeros((4, 6, 3), np.uint8)


@pytest.mark.parametrize(
    ("image", "error", "message"),
    [
        ([[[0, 0, 0]]], TypeError, "numpy.ndarray, not list"),
        (b"\x00\x00\x00", TypeError, "numpy.ndarray, not bytes"),
        (np.zeros((4, 6, 3), np.float32), TypeError, "dtype uint8, not float32"),
        (np.zeros((4, 6, 3), np.uint16), TypeError, "dtype uint8, not uint16"),
        (np.zeros((4, 6, 3), np.int8), TypeError, "dtype uint8, not int8"),
        (np.zeros(12, np.uint8), ValueError, r"shape \(height, width, 3 or 4\).*got \(12,\)"),
        (np.zeros((2, 4, 6, 3), np.uint8), ValueError, r"got \(2, 4, 6, 3\)"),
        (np.zeros((4, 6, 2), np.uint8), ValueError, r"got \(4, 6, 2\)"),
        (np.zeros((4, 6, 5), np.uint8), ValueError, r"got \(4, 6, 5\)"),
        (np.zeros((4, 12, 3), np.uint8)[:, ::2], ValueError, r"strides \(any, 3, 1\)"),
        (np.zeros((4, 6, 4), np.uint8)[..., :3], ValueError, r"strides \(any, 3, 1\)"),
        (np.asfortranarray(np.zeros((4, 6, 3), np.uint8)), ValueError, "contiguous within a row"),
        (
            np.lib.stride_tricks.as_strided(GOOD, shape=(4, 6, 3), strides=(3, 3, 1)),
            ValueError,
            "rows overlap",
        ),
    ],
)
def test_bad_image_is_refused_with_a_clear_error(
    image: object, error: type[Exception], message: str
) -> None:
    # Given / When / Then
    with pytest.raises(error, match=message):
        to_gray(image)  # type: ignore[arg-type]


@pytest.mark.parametrize("order", ["rgb", "RGBA", "", None, 0])
def test_bad_order_is_refused(order: object) -> None:
    with pytest.raises(ValueError, match="order must be 'RGB' or 'BGR'"):
        to_gray(GOOD, order=order)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("threads", "error", "message"),
    [
        (0, ValueError, "threads must be >= 1"),
        (-2, ValueError, "threads must be >= 1"),
        (2**31, ValueError, "threads must be >= 1"),
        (1.5, TypeError, "int or None, not float"),
        ("2", TypeError, "int or None, not str"),
        (True, TypeError, "not bool"),
    ],
)
def test_bad_thread_count_is_refused(threads: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        to_gray(GOOD, threads=threads)  # type: ignore[arg-type]


def test_numpy_integer_thread_count_is_accepted() -> None:
    assert to_gray(GOOD, threads=np.int64(2)).shape == (4, 6)  # type: ignore[arg-type]


def _read_only_out() -> np.ndarray:
    out = np.zeros((4, 6), np.uint8)
    out.flags.writeable = False
    return out


@pytest.mark.parametrize(
    ("out", "error", "message"),
    [
        ([[0] * 6] * 4, TypeError, "out must be a numpy.ndarray or None, not list"),
        (np.zeros((4, 6), np.float64), TypeError, "out must have dtype uint8, not float64"),
        (np.zeros((6, 4), np.uint8), ValueError, r"out must have shape \(4, 6\)"),
        (np.zeros((4, 6, 1), np.uint8), ValueError, r"out must have shape \(4, 6\)"),
        (np.zeros((4, 12), np.uint8)[:, ::2], ValueError, r"strides \(any, 1\)"),
        (_read_only_out(), ValueError, "out must be writable"),
    ],
)
def test_bad_out_is_refused(out: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        to_gray(GOOD, out=out)  # type: ignore[arg-type]


def test_out_sharing_memory_with_the_image_is_refused_and_the_image_is_kept() -> None:
    # Given an image and an "out" that aliases the image's own bytes
    image = random_image(4, 6, 3)
    before = image.copy()
    alias = image.reshape(-1)[: 4 * 6].reshape(4, 6)

    # When / Then: refused, and the image is unchanged
    with pytest.raises(ValueError, match="must not share memory"):
        to_gray(image, out=alias)
    assert np.array_equal(image, before)


@pytest.mark.parametrize(
    ("image", "out", "message"),
    [
        (np.zeros((4, 6, 2), np.uint8), np.zeros((4, 6), np.uint8), "3 or 4"),
        (np.zeros((4, 6, 3), np.uint8), np.zeros((4, 5), np.uint8), "shape"),
        (np.zeros((4, 12, 3), np.uint8)[:, ::2], np.zeros((4, 6), np.uint8), "contiguous"),
        (np.zeros((4, 6, 3), np.uint8), np.zeros((4, 12), np.uint8)[:, ::2], "contiguous"),
    ],
)
def test_extension_rechecks_what_memory_safety_needs(
    image: np.ndarray, out: np.ndarray, message: str
) -> None:
    # Given the extension called directly, without the Python-level checks
    # When / Then: it refuses rather than reading or writing out of bounds
    with pytest.raises(ValueError, match=message):
        _native.convert(image, out)


def test_extension_refuses_unknown_isa_and_non_uint8_buffers() -> None:
    out = np.zeros((4, 6), np.uint8)
    with pytest.raises(ValueError, match="isa must be"):
        _native.convert(GOOD, out, isa="sse9")
    with pytest.raises(TypeError, match="uint8"):
        _native.convert(np.zeros((4, 6, 3), np.float32), out)
    with pytest.raises(ValueError, match="order must be"):
        _native.convert(GOOD, out, order=2)
    with pytest.raises(BufferError):
        _native.convert(GOOD, b"\x00" * 24)  # a read-only buffer as the output


def test_bandwidth_floor_reads_every_input_byte_and_writes_every_output_byte() -> None:
    # Given a 3-channel frame whose bytes are all 1, and an output of zeros
    image = np.ones((33, 70, 3), np.uint8)
    out = np.zeros((33, 70), np.uint8)

    # When the floor routine runs (it ORs input bytes: no colour arithmetic)
    _native.bandwidth_floor(image, out, threads=2)

    # Then every output byte was written from input bytes
    assert np.all(out == 1)


def test_bandwidth_floor_needs_three_channels() -> None:
    with pytest.raises(ValueError, match="3-channel"):
        _native.bandwidth_floor(np.zeros((4, 6, 4), np.uint8), np.zeros((4, 6), np.uint8))
