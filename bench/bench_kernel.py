"""Side-by-side benchmark of the native gray kernel against OpenCV, Pillow, numpy and the
memory-bandwidth floor, on a hot 1080p frame and a cold 4096x4096 frame, with 1 and 2 threads.

Run: .venv/bin/python bench/bench_kernel.py [--quick]      (see bench/README.md)

Every method runs in the same process, in rounds: each round times every method once (a warm-up
call, then a block of back-to-back calls), rotating the order between rounds, so background load
hits all methods alike. Reported: the median over rounds of the per-call time, and the best
round. Ratios are medians too.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

import grayscale_kernel
from grayscale_kernel import _native

BLOCK_SECONDS = 0.02  # a timed block lasts about this long, so timer overhead is negligible
HOT_TARGET = 3.0  # kernel at least 3x faster than OpenCV, hot 1080p frame, 2 threads
COLD_TARGET = 1.25  # kernel within 1.25x of the bandwidth floor on a frame larger than cache
HOT_FLOOR_TARGET = 1.5  # kernel within 1.5x of the bandwidth floor on the hot 1080p frame


@dataclass
class Method:
    name: str
    threads: int
    run: Callable[[], object]
    times: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def best(self) -> float:
        return min(self.times)


def numpy_gray(image: np.ndarray) -> np.ndarray:
    """The same fixed-point formula in plain numpy (uint32 planes), single-threaded."""
    r, g, b = (image[..., c].astype(np.uint32) for c in range(3))
    return ((9798 * r + 19235 * g + 3735 * b + 16384) >> 15).astype(np.uint8)


def methods_for(image: np.ndarray, threads: int, isas: list[str]) -> list[Method]:
    out = np.empty(image.shape[:2], np.uint8)
    pil_image = Image.fromarray(image, "RGB")

    def opencv() -> object:
        cv2.setNumThreads(threads)  # cheap; keeps OpenCV at this thread count in every block
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY, dst=out)

    found = [
        Method(f"grayscale_kernel[{isa}]", threads, _kernel(image, out, threads, isa))
        for isa in isas
    ]
    found += [
        Method("cv2.cvtColor RGB2GRAY", threads, opencv),
        Method("bandwidth floor (C: read 3N, write N)", threads, _floor(image, out, threads)),
    ]
    if threads == 1:  # Pillow's convert and numpy use one thread whatever is asked
        found += [
            Method("Pillow convert('L')", 1, lambda: pil_image.convert("L")),
            Method("numpy (same formula)", 1, lambda: numpy_gray(image)),
        ]
    return found


def _kernel(image: np.ndarray, out: np.ndarray, threads: int, isa: str) -> Callable[[], object]:
    return lambda: _native.convert(image, out, threads=threads, isa=isa)


def _floor(image: np.ndarray, out: np.ndarray, threads: int) -> Callable[[], object]:
    return lambda: _native.bandwidth_floor(image, out, threads=threads)


def measure(methods: list[Method], rounds: int) -> None:
    for round_index in range(rounds):
        shift = round_index % len(methods)
        for method in methods[shift:] + methods[:shift]:
            start = time.perf_counter()
            method.run()  # warm-up: wakes thread pools, brings a hot frame into cache
            calls = max(1, min(200, int(BLOCK_SECONDS / max(time.perf_counter() - start, 1e-6))))
            start = time.perf_counter()
            for _ in range(calls):
                method.run()
            method.times.append((time.perf_counter() - start) / calls)


def check_exactness(image: np.ndarray) -> None:
    ours = grayscale_kernel.to_gray(image)
    assert np.array_equal(ours, cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)), "kernel != OpenCV"
    assert np.array_equal(ours, numpy_gray(image)), "numpy version != kernel"


def report(title: str, pixels: int, methods: list[Method]) -> dict[tuple[str, int], Method]:
    by_key = {(m.name, m.threads): m for m in methods}
    best_isa = grayscale_kernel.best_isa()
    print(f"\n{title}")
    print(
        f"  {'method':40} {'thr':>3} {'median ms':>10} {'best ms':>9} {'Mpx/s':>8} {'x kernel':>9}"
    )
    for m in methods:
        kernel = by_key[(f"grayscale_kernel[{best_isa}]", m.threads)]
        ratio = statistics.median(a / b for a, b in zip(m.times, kernel.times, strict=True))
        print(
            f"  {m.name:40} {m.threads:>3} {m.median * 1e3:>10.3f} {m.best * 1e3:>9.3f} "
            f"{pixels / m.median / 1e6:>8.0f} {ratio:>8.2f}x"
        )
    return by_key


def paired_ratio(a: Method, b: Method) -> float:
    """Median over rounds of a's time / b's time (both measured in the same round)."""
    return statistics.median(x / y for x, y in zip(a.times, b.times, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (about 20 s)")
    parser.add_argument("--rounds", type=int, help="rounds per frame (default 15, quick 5)")
    args = parser.parse_args()
    rounds = args.rounds or (5 if args.quick else 15)

    isas = [grayscale_kernel.best_isa()]
    if "avx2" in _native.supported_isas() and "avx2" not in isas:
        isas.append("avx2")  # the path CPUs without AVX-512 VBMI/VNNI (many cloud hosts) take
    if isas[0] == "neon":
        isas.append("scalar")  # arm64: the explicit NEON path vs the compiler's auto-vectorised one
    omp_env = {k: v for k, v in os.environ.items() if k.startswith(("OMP_", "GOMP_"))}
    print(
        f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.2f}; kernel path {isas[0]}, OpenMP default team "
        f"{grayscale_kernel.max_threads()}, env {omp_env or '{}'}; OpenCV {cv2.__version__}, "
        f"numpy {np.__version__}, Pillow {Image.__version__}; {rounds} rounds"
    )

    rng = np.random.default_rng(0)
    frames = {
        "hot: 1920x1080 RGB, same frame repeatedly (8 MB in + out: stays in L3)": (1080, 1920),
        "cold: 4096x4096 RGB (64 MB in + out: larger than cache, streams from DRAM)": (4096, 4096),
    }
    results: dict[str, dict[tuple[str, int], Method]] = {}
    for title, (height, width) in frames.items():
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        check_exactness(image)
        methods = [m for threads in (1, 2) for m in methods_for(image, threads, isas)]
        measure(methods, rounds)
        results[title] = report(title, height * width, methods)

    hot, cold = (results[t] for t in frames)
    kernel = f"grayscale_kernel[{isas[0]}]"
    floor = "bandwidth floor (C: read 3N, write N)"
    print(f"\nTargets (paired medians; load now {os.getloadavg()[0]:.2f})")
    speedup = paired_ratio(hot[("cv2.cvtColor RGB2GRAY", 2)], hot[(kernel, 2)])
    verdict = "MET" if speedup >= HOT_TARGET else "NOT MET"
    print(
        f"  hot 1080p, 2 threads: OpenCV / kernel = {speedup:.2f}x "
        f"(target >= {HOT_TARGET}x) {verdict}"
    )
    for isa in isas:  # the path auto picks, and the one it is compared with (avx2, scalar)
        for threads in (1, 2):
            over = paired_ratio(hot[(f"grayscale_kernel[{isa}]", threads)], hot[(floor, threads)])
            verdict = "MET" if over <= HOT_FLOOR_TARGET else "NOT MET"
            print(
                f"  hot 1080p, {isa}, {threads} thread(s): kernel / floor = {over:.2f}x "
                f"(target <= {HOT_FLOOR_TARGET}x) {verdict}"
            )
    for threads in (1, 2):
        over = paired_ratio(cold[(kernel, threads)], cold[(floor, threads)])
        verdict = "MET" if over <= COLD_TARGET else "NOT MET"
        print(
            f"  cold 4096x4096, {threads} thread(s): kernel / floor = {over:.2f}x "
            f"(target <= {COLD_TARGET}x) {verdict}"
        )


if __name__ == "__main__":
    main()
