"""The grayscale task as a process, per-object vs batched: process start -> exit against the
codec work, per-image time in a batch, images/s and task starts per 1,000 images.

Run: .venv/bin/python bench/bench_image_batch.py [--batch N] [--rounds R]

Each run is ``python -m grayscale_task`` in a fresh process (what a Fargate task runs, without
the tens of seconds Fargate adds before it), against moto's server on the loopback (S3, SQS,
DynamoDB). Inputs: a 69-byte PNG, a 512x512 JPEG photo (Ultralytics' bus.jpg cropped, or a
synthetic one) and a 1920x1080 JPEG. Reference: decode + convert + encode in-process (medians,
warm), and transfer = the download + upload stages the task reports. Medians over rounds; compare
ratios within one run.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "layers" / "common", ROOT / "containers" / "grayscale"):
    sys.path.insert(0, str(path))

from grayscale_task.convert import convert, resolve_threads  # noqa: E402
from grayscale_task.decode import decode  # noqa: E402
from grayscale_task.encode import encode  # noqa: E402
from tests.support import image_samples as samples  # noqa: E402


def _inputs() -> dict[str, bytes]:
    tiny = io.BytesIO()
    Image.new("RGB", (1, 1), (200, 100, 50)).save(tiny, "PNG")
    photo = Image.open(io.BytesIO(samples.photo_jpeg())).convert("RGB")
    crop = photo.crop((0, 0, 512, 512)) if min(photo.size) >= 512 else photo.resize((512, 512))
    frame = Image.fromarray(samples.synthetic_photo(1080, 1920))
    return {
        f"tiny PNG ({len(tiny.getvalue())} B)": tiny.getvalue(),
        "512x512 JPEG photo": samples.encode(crop, "JPEG", quality=90),
        "1920x1080 JPEG": samples.encode(frame, "JPEG", quality=90),
    }


def _codec_ms(data: bytes, rounds: int) -> float:
    def once() -> float:
        start = time.perf_counter()
        decoded = decode(data, max_pixels=100_000_000)
        gray = convert(decoded, threads=resolve_threads(0))
        encode(gray.image, decoded.format, jpeg_quality=90, png_compress_level=4)
        return (time.perf_counter() - start) * 1000.0

    once()
    return statistics.median(once() for _ in range(rounds))


def _cpu_s(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


class Cloud:
    def __init__(self) -> None:
        import boto3
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        creds = {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        os.environ.update(creds)
        self.s3 = boto3.client("s3", endpoint_url=self.endpoint)
        self.sqs = boto3.client("sqs", endpoint_url=self.endpoint)
        ddb = boto3.client("dynamodb", endpoint_url=self.endpoint)
        for bucket in ("bench-input", "bench-output"):
            self.s3.create_bucket(Bucket=bucket)
        self.queue = self.sqs.create_queue(QueueName="bench")["QueueUrl"]
        ddb.create_table(
            TableName="claims",
            AttributeDefinitions=[{"AttributeName": "object_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "object_id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.env = {
            **os.environ,
            **creds,
            "AWS_ENDPOINT_URL": self.endpoint,
            "PYTHONPATH": os.pathsep.join(
                [str(ROOT / "containers" / "grayscale"), str(ROOT / "layers" / "common")]
            ),
            "OUTPUT_BUCKET": "bench-output",
            "METRICS_QUEUE_URL": self.queue,
            "CLAIMS_TABLE": "claims",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_SERVICE_NAME": "grayscale",
            "GRAYSCALE_THREADS": "0",
        }
        self.runs = 0
        self.last_cpu_ms = (0.0, 0.0)

    def run(self, extra: dict[str, str]) -> tuple[float, list[dict]]:
        children, server = _cpu_s(resource.RUSAGE_CHILDREN), _cpu_s(resource.RUSAGE_SELF)
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "grayscale_task"], env={**self.env, **extra}, check=False
        )
        wall = (time.perf_counter() - start) * 1000.0
        # CPU of the task process, and of this process (moto's server threads) while it ran.
        self.last_cpu_ms = (
            (_cpu_s(resource.RUSAGE_CHILDREN) - children) * 1000.0,
            (_cpu_s(resource.RUSAGE_SELF) - server) * 1000.0,
        )
        if done.returncode != 0:
            raise RuntimeError(f"task exited {done.returncode}")
        messages: list[dict] = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not got:
                return wall, messages
            for m in got:
                messages.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=m["ReceiptHandle"])

    def per_object(self, key: str) -> tuple[float, dict]:
        wall, (message,) = self.run({"INPUT_BUCKET": "bench-input", "INPUT_KEY": key})
        return wall, message

    def batch(self, keys: list[str], concurrency: int = 1) -> tuple[float, list[dict]]:
        self.runs += 1
        batch_id = f"imgb-bench-{self.runs}"
        objects = [
            {"bucket": "bench-input", "key": k, "size": 1, "correlation_id": f"{batch_id}-{i}"}
            for i, k in enumerate(keys)
        ]
        manifest_key = f"manifests/{batch_id}.json"
        self.s3.put_object(
            Bucket="bench-output",
            Key=manifest_key,
            Body=json.dumps({"batch_id": batch_id, "objects": objects}).encode(),
        )
        wall, messages = self.run(
            {
                "MANIFEST_BUCKET": "bench-output",
                "MANIFEST_KEY": manifest_key,
                "BATCH_ID": batch_id,
                "BATCH_CONCURRENCY": str(concurrency),
            }
        )
        assert len(messages) == len(keys), messages
        return wall, messages

    def stop(self) -> None:
        self.server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=25, help="objects per batch (default 25)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--concurrency",
        default="1,4",
        help="BATCH_CONCURRENCY values to compare, side by side (default 1,4)",
    )
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    one, five, _ = os.getloadavg()
    print(f"CPU: {os.cpu_count()} CPUs, load average {one:.2f} (1 min) {five:.2f} (5 min)")
    cloud = Cloud()
    try:
        per_image_cols = " | ".join(
            f"per image, {c} in flight: ms (x codec+transfer)" for c in levels
        )
        print(
            "\n| input | codec ms | transfer ms | start->exit per-object ms | ratio | "
            + per_image_cols
            + " |"
        )
        print("|---|---|---|---|---|" + "---|" * len(levels))
        for name, data in _inputs().items():
            key = "bench/" + name.split()[0] + (".png" if "PNG" in name else ".jpg")
            cloud.s3.put_object(Bucket="bench-input", Key=key, Body=data)
            codec = _codec_ms(data, args.rounds * 4)
            cloud.per_object(key)  # warm the OS file cache
            single = [cloud.per_object(key) for _ in range(args.rounds)]
            wall_single = statistics.median(w for w, _ in single)
            transfer = statistics.median(
                m["timings_ms"]["download"] + m["timings_ms"]["upload"] for _, m in single
            )
            # A key per object of the batch (each its own output), as uploads are.
            keys = [f"{key}.{i}" for i in range(args.batch)]
            for k in keys:
                cloud.s3.put_object(Bucket="bench-input", Key=k, Body=data)
            repeats = max(2, args.rounds // 2)
            walls_1, cpu_1 = [], []
            for _ in range(repeats):
                walls_1.append(cloud.batch(keys[:1])[0])
                cpu_1.append(cloud.last_cpu_ms)
            # Interleaved, so a change in the host's speed hits every level alike.
            walls_n: dict[int, list[float]] = {c: [] for c in levels}
            cpu_n: dict[int, list[tuple[float, float]]] = {c: [] for c in levels}
            for _ in range(repeats):
                for c in levels:
                    walls_n[c].append(cloud.batch(keys, c)[0])
                    cpu_n[c].append(cloud.last_cpu_ms)
            cells = []
            for c in levels:
                per_image = (statistics.median(walls_n[c]) - statistics.median(walls_1)) / (
                    args.batch - 1
                )
                # Per object, like the wall time: (batch of N - batch of 1) / (N - 1).
                task_cpu, server_cpu = (
                    (
                        statistics.median(x[i] for x in cpu_n[c])
                        - statistics.median(x[i] for x in cpu_1)
                    )
                    / (args.batch - 1)
                    for i in (0, 1)
                )
                cells.append(
                    f"{per_image:.1f} ({per_image / (codec + transfer):.2f}x; "
                    f"CPU {task_cpu:.0f} + {server_cpu:.0f})"
                )
            print(
                f"| {name} | {codec:.1f} | {transfer:.1f} | {wall_single:.0f} | "
                f"{wall_single / codec:.1f}x | " + " | ".join(cells) + " |"
            )
            if name.startswith("512"):
                photo = (wall_single, {c: statistics.median(walls_n[c]) for c in levels})
        wall_single, wall_batch = photo
        print(f"\n512x512 photos, locally (no Fargate start), batch of {args.batch}:")
        print("| mode | images/s | task starts per 1,000 images |")
        print("|---|---|---|")
        print(f"| per-object | {1000.0 / wall_single:.1f} | 1,000 |")
        for c in levels:
            print(
                f"| batched B={args.batch}, {c} in flight | "
                f"{args.batch * 1000.0 / wall_batch[c]:.1f} | {-(-1000 // args.batch):,} |"
            )
        one, five, _ = os.getloadavg()
        print(f"\nload average at the end {one:.2f} (1 min) {five:.2f} (5 min)")
    finally:
        cloud.stop()


if __name__ == "__main__":
    main()
