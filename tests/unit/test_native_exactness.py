"""The native gray kernel agrees bit for bit with OpenCV's formula on every colour, every layout,
every instruction-set path and every thread count."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import grayscale_kernel
from grayscale_kernel import _native

ISAS = _native.supported_isas()
SIDE = 4096  # 4096 * 4096 pixels = every one of the 2^24 colours once


def formula(r: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    """OpenCV's 8-bit RGB->gray, evaluated independently of the kernel in numpy."""
    r32, g32, b32 = (c.astype(np.uint32) for c in (r, g, b))
    return ((9798 * r32 + 19235 * g32 + 3735 * b32 + 16384) >> 15).astype(np.uint8)


def with_layout(rgb: np.ndarray, order: str, channels: int, seed: int = 7) -> np.ndarray:
    """The same colours as (H, W, channels) bytes in `order`; random alpha, to be ignored."""
    planes = [rgb[..., 0], rgb[..., 1], rgb[..., 2]]
    if order == "BGR":
        planes.reverse()
    if channels == 4:
        planes.append(np.random.default_rng(seed).integers(0, 256, rgb.shape[:2], dtype=np.uint8))
    return np.ascontiguousarray(np.stack(planes, axis=-1))


def convert(image: np.ndarray, order: str, isa: str, threads: int = 0) -> np.ndarray:
    out = np.empty(image.shape[:2], np.uint8)
    _native.convert(image, out, order=0 if order == "RGB" else 1, threads=threads, isa=isa)
    return out


@pytest.fixture(scope="module")
def all_colours() -> np.ndarray:
    codes = np.arange(1 << 24, dtype=np.uint32).reshape(SIDE, SIDE)
    rgb = np.empty((SIDE, SIDE, 3), np.uint8)
    for channel, shift in enumerate((16, 8, 0)):
        rgb[..., channel] = (codes >> shift) & 0xFF
    return rgb


@pytest.fixture(scope="module")
def all_colours_gray(all_colours: np.ndarray) -> np.ndarray:
    return formula(all_colours[..., 0], all_colours[..., 1], all_colours[..., 2])


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize(("order", "channels"), [("RGB", 3), ("BGR", 3), ("RGB", 4), ("BGR", 4)])
def test_every_colour_matches_the_formula_on_every_path(
    all_colours: np.ndarray, all_colours_gray: np.ndarray, isa: str, order: str, channels: int
) -> None:
    # Given all 2^24 colours in this byte layout
    image = with_layout(all_colours, order, channels)

    # When the kernel converts them on this instruction-set path with two threads
    gray = convert(image, order, isa, threads=2)

    # Then every pixel equals the fixed-point formula
    mismatches = np.flatnonzero(gray != all_colours_gray)
    assert mismatches.size == 0, f"{mismatches.size} colours differ, first at code {mismatches[0]}"


@pytest.mark.parametrize(
    ("order", "channels", "code"),
    [
        ("RGB", 3, cv2.COLOR_RGB2GRAY),
        ("BGR", 3, cv2.COLOR_BGR2GRAY),
        ("RGB", 4, cv2.COLOR_RGBA2GRAY),
        ("BGR", 4, cv2.COLOR_BGRA2GRAY),
    ],
)
def test_every_colour_matches_opencv(
    all_colours: np.ndarray, order: str, channels: int, code: int
) -> None:
    # Given all 2^24 colours in this byte layout
    image = with_layout(all_colours, order, channels)

    # When the public API and OpenCV convert them
    ours = grayscale_kernel.to_gray(image, order=order)  # type: ignore[arg-type]
    theirs = cv2.cvtColor(image, code)

    # Then the results are identical
    assert np.array_equal(ours, theirs)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("channels", [3, 4])
def test_every_width_up_to_three_vector_blocks(isa: str, channels: int) -> None:
    # Given random rows of every width from 1 to 200 pixels (vector bodies, tails, tails only)
    rng = np.random.default_rng(channels)
    for width in range(1, 201):
        image = rng.integers(0, 256, (3, width, channels), dtype=np.uint8)

        # When converted on this path
        gray = convert(image, "RGB", isa, threads=1)

        # Then each width gives the formula's values, including the last pixel of each row
        expected = formula(image[..., 0], image[..., 1], image[..., 2])
        assert np.array_equal(gray, expected), f"width {width}"


@pytest.mark.parametrize("shape", [(1, 1), (1, 1000), (1000, 1), (7, 33), (2, 65), (3, 127)])
def test_odd_sizes_match_opencv(shape: tuple[int, int]) -> None:
    # Given a random RGB image of an awkward size
    image = np.random.default_rng(sum(shape)).integers(0, 256, (*shape, 3), dtype=np.uint8)

    # When converted by the public API
    gray = grayscale_kernel.to_gray(image)

    # Then it has the image's height and width and OpenCV's values
    assert gray.shape == shape
    assert gray.dtype == np.uint8
    assert np.array_equal(gray, cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))


@pytest.fixture(scope="module")
def large_image() -> np.ndarray:
    # 1.1 Mpx: large enough that the kernel really splits rows among many threads
    return np.random.default_rng(11).integers(0, 256, (701, 1601, 3), dtype=np.uint8)


@pytest.mark.parametrize("isa", ISAS)
def test_thread_count_does_not_change_the_output(large_image: np.ndarray, isa: str) -> None:
    # Given the single-threaded result, and thread counts that really split the rows
    reference = convert(large_image, "RGB", isa, threads=1)
    counts = [2, 3, 7, 16, 33]
    assert [grayscale_kernel.effective_threads(701, 1601, n) for n in counts] == counts

    # When converted with each of them, and with OpenMP's default
    results = [convert(large_image, "RGB", isa, threads=n) for n in counts]
    results.append(grayscale_kernel.to_gray(large_image))

    # Then every result is identical to the single-threaded one
    for count, result in zip([*counts, None], results, strict=True):
        assert np.array_equal(result, reference), f"threads={count}"


def test_paths_agree_with_each_other_on_a_large_image(large_image: np.ndarray) -> None:
    # Given every instruction-set path this CPU can run
    # When each converts the same image
    results = {isa: convert(large_image, "BGR", isa) for isa in ISAS}

    # Then they all equal the portable scalar path
    for isa, result in results.items():
        assert np.array_equal(result, results["scalar"]), isa


def test_effective_threads_never_exceeds_rows_or_work() -> None:
    # Given / When / Then: one row cannot be shared, a tiny image is not worth a second thread,
    # and a big one uses what was asked
    assert grayscale_kernel.effective_threads(1, 1_000_000, 8) == 1
    assert grayscale_kernel.effective_threads(64, 64, 8) == 1
    assert grayscale_kernel.effective_threads(4096, 4096, 3) == 3
    assert grayscale_kernel.effective_threads(4096, 4096) == min(
        grayscale_kernel.max_threads(), 4096 * 4096 // 32768
    )
    assert grayscale_kernel.max_threads() >= 1


def test_best_isa_is_one_this_cpu_supports() -> None:
    # Given / When / Then
    assert grayscale_kernel.best_isa() in ISAS
    assert "scalar" in ISAS
