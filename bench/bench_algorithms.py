"""Algorithm benchmark: each plugin's time per image on pydicom's real DICOM samples, as ratios
between algorithms and against the DICOM decode time of the same image (one run, one process).

    .venv/bin/python bench/bench_algorithms.py [--seconds 0.2] [--out bench/results/algorithms.json]

For every image: decode (bytes -> modality values, pydicom + modality LUT), display (VOI window to
8 bits), then each algorithm's ``segment`` on the display image. Every stage is timed in rounds
(a warm-up call, then a block of back-to-back calls lasting about ``--seconds``), rotating the
order between rounds so background load hits all stages alike; the median over rounds is kept.
The whole run stays well under a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT / "layers" / "common", ROOT / "containers" / "algorithm_worker"):
    sys.path.insert(0, str(path))

import cv2  # noqa: E402
from pydicom.data import get_testdata_file  # noqa: E402

from algorithm_worker.algorithms import REGISTRY  # noqa: E402
from algorithm_worker.dicom_io import decode_instance  # noqa: E402
from algorithm_worker.imaging import display_image  # noqa: E402

SAMPLES = (
    "CT_small.dcm",
    "MR_small.dcm",
    "examples_overlay.dcm",
    "liver_1frame.dcm",
    "dicomdirtests/98892003/MR700/4467",
)
ROUNDS = 5


def per_call_seconds(work: Callable[[], object], block_seconds: float) -> float:
    work()  # warm-up: first-call allocations and caches are not what is measured
    calls, started = 0, time.perf_counter()
    while True:
        work()
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= block_seconds:
            return elapsed / calls


def bench_image(name: str, block_seconds: float) -> dict[str, object]:
    path = get_testdata_file(name, download=False)
    assert path is not None, f"pydicom does not bundle {name}"
    data = Path(path).read_bytes()
    image = decode_instance(data, name)[0]
    display = display_image(image)
    stages: dict[str, Callable[[], object]] = {
        "decode": lambda: decode_instance(data, name),
        "display": lambda: display_image(image),
    }
    for algo_id, algorithm in sorted(REGISTRY.items()):
        stages[algo_id] = lambda a=algorithm: a.segment(display, image)
    samples: dict[str, list[float]] = {stage: [] for stage in stages}
    order = list(stages)
    for round_index in range(ROUNDS):
        rotated = order[round_index % len(order) :] + order[: round_index % len(order)]
        for stage in rotated:
            samples[stage].append(per_call_seconds(stages[stage], block_seconds))
    median_ms = {stage: statistics.median(times) * 1000 for stage, times in samples.items()}
    decode_ms = median_ms["decode"]
    fastest = min(median_ms[a] for a in REGISTRY)
    return {
        "image": name,
        "shape": list(image.values.shape),
        "bytes": len(data),
        "median_ms": {k: round(v, 4) for k, v in median_ms.items()},
        "algorithm_vs_decode": {a: round(median_ms[a] / decode_ms, 2) for a in sorted(REGISTRY)},
        "algorithm_vs_fastest": {a: round(median_ms[a] / fastest, 2) for a in sorted(REGISTRY)},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=0.2, help="length of one timed block")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    cv2.setNumThreads(1)  # one core per worker task, as on Fargate's smaller sizes
    started = time.perf_counter()
    results = [bench_image(name, args.seconds) for name in SAMPLES]
    algos = sorted(REGISTRY)
    header = f"{'image':34} {'shape':>9} {'decode ms':>10} " + " ".join(
        f"{a + ' ms (x dec)':>22}" for a in algos
    )
    print(header)
    print("-" * len(header))
    for row in results:
        ms, vs = row["median_ms"], row["algorithm_vs_decode"]
        shape = "x".join(str(n) for n in row["shape"])  # type: ignore[attr-defined]
        cells = " ".join(f"{ms[a]:>12.3f} ({vs[a]:>6.2f}x)" for a in algos)  # type: ignore[index]
        print(f"{row['image']:34} {shape:>9} {ms['decode']:>10.3f} {cells}")  # type: ignore[index]
    print()
    for row in results:
        ratios = ", ".join(f"{a} {row['algorithm_vs_fastest'][a]:.2f}x" for a in algos)  # type: ignore[index]
        print(f"{row['image']:34} relative to the fastest algorithm: {ratios}")
    elapsed = time.perf_counter() - started
    print(f"\n{len(results)} images, {ROUNDS} rounds each, {elapsed:.1f} s, {os.cpu_count()} CPUs")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "python": platform.python_version(),
            "opencv": cv2.__version__,
            "results": results,
        }
        args.out.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
