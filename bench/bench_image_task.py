"""Per-stage breakdown of the grayscale task on a real JPEG and PNG, and its cheap wins.

Run: .venv/bin/python bench/bench_image_task.py [--quick] [--rounds N]

Inputs: Ultralytics' bus.jpg (810x1080 JPEG) and zidane.jpg re-encoded as PNG (1280x720) when
``ultralytics`` is installed, else synthetic photo-like images; plus a synthetic 1920x1080 frame
as JPEG and PNG. For each, in rounds (every method once per round, order rotated):

- the task's own stages with its default settings: decode, convert (native kernel, all
  threads), encode; plus the whole task in-process against moto (download and upload there go
  to an in-memory S3, so they only show the task's overhead, not S3's latency);
- cheap wins: JPEG decoded straight to luma (libjpeg's Y plane, ``JPEG_LUMA_DECODE``) against
  decode RGB + kernel, with the pixel difference; PNG zlib levels 1 and 6 (Pillow's default)
  against the task's default 4 (``PNG_COMPRESS_LEVEL``), with the size cost; the kernel on 1
  thread against all.

Reported: medians over rounds. Compare ratios within one run, not absolute times.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "layers" / "common", ROOT / "containers" / "grayscale"):
    sys.path.insert(0, str(path))

from grayscale_task.convert import convert, resolve_threads  # noqa: E402
from grayscale_task.decode import decode  # noqa: E402
from grayscale_task.encode import encode  # noqa: E402
from tests.support import image_samples as samples  # noqa: E402

MAX_PIXELS = 100_000_000


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000.0


def _rounds(methods: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median ms per method; one warm-up call each, then ``rounds`` rotated rounds."""
    names = list(methods)
    for name in names:
        methods[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(_timed(methods[name]))
    return {name: statistics.median(values) for name, values in times.items()}


def _inputs(quick: bool) -> list[tuple[str, bytes]]:
    frame = Image.fromarray(samples.synthetic_photo(1080, 1920))
    real_jpeg = "bus.jpg" if samples.ultralytics_asset("bus.jpg") else "synthetic"
    real_png = "zidane.png" if samples.ultralytics_asset("zidane.jpg") else "synthetic"
    inputs = [(f"{real_jpeg} JPEG", samples.photo_jpeg()), (f"{real_png} PNG", samples.photo_png())]
    if not quick:
        inputs += [
            ("synthetic 1080p JPEG", samples.encode(frame, "JPEG", quality=90)),
            ("synthetic 1080p PNG", samples.encode(frame, "PNG")),
        ]
    return inputs


def _whole_task_ms(data: bytes, fmt: str, rounds: int) -> dict[str, float]:
    """Median per-stage timings the task itself reports, run in-process against moto."""
    import boto3
    from moto import mock_aws

    from grayscale_task import task
    from pipeline_common.aws import clear_clients
    from pipeline_common.contracts.image import ImageProcessingResult
    from pipeline_common.observability import logger

    env = {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    os.environ.update(env)
    logger.setLevel("WARNING")  # one INFO line per run would drown the tables
    key = "bench/input." + ("jpg" if fmt == "JPEG" else "png")
    collected: dict[str, list[float]] = {}
    with mock_aws():
        clear_clients()
        s3, sqs = boto3.client("s3"), boto3.client("sqs")
        for bucket in ("bench-input", "bench-output"):
            s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket="bench-input", Key=key, Body=data)
        queue = sqs.create_queue(QueueName="bench")["QueueUrl"]
        os.environ.update(
            INPUT_BUCKET="bench-input",
            INPUT_KEY=key,
            OUTPUT_BUCKET="bench-output",
            METRICS_QUEUE_URL=queue,
        )
        for _ in range(rounds + 1):
            if task.main() != task.EXIT_PROCESSED:
                raise RuntimeError("the task did not process the benchmark input")
            (message,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1)["Messages"]
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
            result = ImageProcessingResult.model_validate_json(message["Body"])
            for stage, ms in result.timings_ms.items():
                collected.setdefault(stage, []).append(ms)
        clear_clients()
    # the first run warms imports and clients: left out
    return {stage: statistics.median(values[1:]) for stage, values in collected.items()}


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    print()


def bench_one(name: str, data: bytes, rounds: int) -> None:
    threads = resolve_threads(0)
    decoded = decode(data, max_pixels=MAX_PIXELS)
    fmt = decoded.format
    gray = convert(decoded, threads=threads).image
    print(f"## {name}: {decoded.width}x{decoded.height} {decoded.mode}, {len(data)} bytes\n")

    methods: dict[str, Callable[[], object]] = {
        "decode": lambda: decode(data, max_pixels=MAX_PIXELS),
        "convert": lambda: convert(decoded, threads=threads),
        "encode": lambda: encode(gray, fmt, jpeg_quality=90, png_compress_level=4),
        "convert 1 thread": lambda: convert(decoded, threads=1),
    }
    if fmt == "JPEG":
        methods["decode to luma (no convert)"] = lambda: decode(
            data, max_pixels=MAX_PIXELS, jpeg_luma=True
        )
    else:
        for level in (1, 6):
            methods[f"encode PNG level {level}"] = lambda level=level: encode(
                gray, fmt, jpeg_quality=90, png_compress_level=level
            )
    median = _rounds(methods, rounds)

    compute = median["decode"] + median["convert"] + median["encode"]
    whole = _whole_task_ms(data, fmt, max(3, rounds // 2))
    rows = []
    for stage in ("download", "decode", "convert", "encode", "upload"):
        rows.append(
            (
                stage,
                f"{whole.get(stage, float('nan')):.2f}",
                f"{median[stage]:.2f}" if stage in median else "-",
                f"{100 * median[stage] / compute:.1f}%" if stage in median else "-",
            )
        )
    rows.append(("total", f"{whole.get('total', float('nan')):.2f}", f"{compute:.2f}", "100%"))
    _table(rows, ("stage", "whole task ms (moto S3)", "stage alone ms", "share of compute"))

    print(
        f"- decode / convert: {median['decode'] / median['convert']:.1f}x; "
        f"encode / convert: {median['encode'] / median['convert']:.1f}x; "
        f"kernel 1 thread / {threads} threads: "
        f"{median['convert 1 thread'] / median['convert']:.2f}x"
    )
    if fmt == "JPEG":
        luma = decode(data, max_pixels=MAX_PIXELS, jpeg_luma=True).pixels.astype(np.int16)
        kernel = np.asarray(gray, dtype=np.int16)
        diff = np.abs(luma - kernel)
        usual = median["decode"] + median["convert"]
        print(
            f"- JPEG straight to luma: {median['decode to luma (no convert)']:.2f} ms vs "
            f"decode+convert {usual:.2f} ms "
            f"({usual / median['decode to luma (no convert)']:.2f}x faster); "
            f"bit-identical: {bool((diff == 0).all())}; identical pixels "
            f"{100 * float((diff == 0).mean()):.2f}%, mean |diff| {float(diff.mean()):.3f}, "
            f"max |diff| {int(diff.max())}"
        )
    else:
        sizes = {
            level: len(encode(gray, fmt, jpeg_quality=90, png_compress_level=level).data)
            for level in (1, 4, 6)
        }
        for level in (1, 6):
            ms = median[f"encode PNG level {level}"]
            print(
                f"- PNG zlib level {level}: {ms:.2f} ms, {sizes[level]} bytes; the default 4: "
                f"{median['encode']:.2f} ms, {sizes[4]} bytes (level {level} takes "
                f"{ms / median['encode']:.2f}x the time, {sizes[level] / sizes[4]:.3f}x the bytes)"
            )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="real photos only, fewer rounds")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    rounds = args.rounds or (5 if args.quick else 11)
    Image.open(io.BytesIO(samples.photo_jpeg())).load()  # decoder libraries loaded before timing
    threads = resolve_threads(0)
    print(f"# Grayscale task per-stage benchmark ({_load()}; kernel threads {threads})\n")
    for name, data in _inputs(args.quick):
        bench_one(name, data, rounds)
    print(f"_{_load()} at the end_")


if __name__ == "__main__":
    main()
