"""Read VideoProcessingQueue and print each frame's detections and the end-of-video summary
(seed 003's consumer); optionally download the annotated frames and detections JSON.

    python -m clients.video_consumer --queue-url URL [--download DIR] [--video-id ID]

``--queue-url`` defaults to ``VIDEO_PROCESSING_QUEUE_URL`` from the environment or the env file.
With ``--video-id`` it stops after that video's summary (or failure) and leaves other videos'
messages on the queue for other readers.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT / "layers" / "common",):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from pydantic import ValidationError  # noqa: E402

from clients.cli import emit, progress, run_module  # noqa: E402
from clients.video_producer import DEFAULT_ENV_FILE, env_value  # noqa: E402
from pipeline_common import aws  # noqa: E402
from pipeline_common.contracts.video import (  # noqa: E402
    FrameResult,
    VideoFailed,
    VideoSummary,
    parse_video_message,
)

FAILED_GRACE_SECONDS = 15.0


def describe(message: FrameResult | VideoSummary | VideoFailed) -> str:
    if isinstance(message, FrameResult):
        found = (
            ", ".join(
                f"{d.class_name} {d.confidence:.2f} [{d.box.x1:.0f},{d.box.y1:.0f},"
                f"{d.box.x2:.0f},{d.box.y2:.0f}]"
                for d in message.detections
            )
            or "nothing"
        )
        return (
            f"[{message.video_id}] frame {message.frame_index} @ {message.timestamp_ms:.0f} ms:"
            f" {found} ({message.timings_ms.get('detect', 0):.0f} ms)"
        )
    if isinstance(message, VideoSummary):
        counts = ", ".join(f"{k}={v}" for k, v in message.class_counts.items()) or "none"
        return (
            f"[{message.video_id}] SUMMARY {message.frames}/{message.frames_sent} frames "
            f"({message.frames_failed} failed), detections: {counts}, "
            f"{message.processing_fps or 0:.1f} frames/s, model {message.model}"
        )
    where = f"frame {message.frame_index}" if message.frame_index is not None else message.level
    return f"[{message.video_id}] FAILED ({where}): {message.reason}"


def download(message: FrameResult, directory: Path) -> None:
    s3 = aws.client("s3")
    target = directory / message.video_id
    target.mkdir(parents=True, exist_ok=True)
    for location in (message.outputs.annotated, message.outputs.detections):
        s3.download_file(location.bucket, location.key, str(target / Path(location.key).name))


def consume(args: argparse.Namespace) -> int:
    """Print each message as a line; with --json, all of them as one JSON list at the end."""
    seen: list[dict[str, Any]] = []
    bar = progress(args, total=None, desc="video results", unit="msg")

    def show(message: FrameResult | VideoSummary | VideoFailed) -> None:
        bar.update(1)
        if args.json:
            seen.append(message.model_dump(mode="json"))
        else:
            with bar.external_write_mode(file=sys.stdout):
                print(describe(message), flush=True)

    try:
        return _consume(args, show)
    finally:
        bar.close()
        if args.json:
            emit(args, seen)


def _consume(
    args: argparse.Namespace, show: Callable[[FrameResult | VideoSummary | VideoFailed], None]
) -> int:
    queue_url = args.queue_url or env_value("VIDEO_PROCESSING_QUEUE_URL", args.env_file)
    if not queue_url:
        raise SystemExit("video_consumer: no --queue-url and no VIDEO_PROCESSING_QUEUE_URL")
    sqs = aws.client("sqs")
    idle_since = time.monotonic()
    failed_at: float | None = None  # a truncated video's frames may still be on their way
    while True:
        if failed_at is not None and time.monotonic() - failed_at > FAILED_GRACE_SECONDS:
            return 1
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=args.wait
        ).get("Messages", [])
        if not batch:
            if args.idle_exit and time.monotonic() - idle_since > args.idle_exit:
                return 0 if failed_at is None else 1
            continue
        idle_since = time.monotonic()
        for raw in batch:
            try:
                message = parse_video_message(raw["Body"])
            except ValidationError as exc:
                print(
                    f"skipping a message that is not a video result: {exc.errors()[0]['msg']}",
                    file=sys.stderr,
                )
                continue  # left on the queue: its redrive policy takes it to the DLQ
            if args.video_id and message.video_id != args.video_id:
                # Someone else's video: make it visible again at once for its own reader.
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=raw["ReceiptHandle"], VisibilityTimeout=0
                )
                continue
            show(message)
            if args.download and isinstance(message, FrameResult):
                download(message, args.download)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=raw["ReceiptHandle"])
            if args.video_id and isinstance(message, VideoSummary):
                return 0 if failed_at is None else 1
            if args.video_id and isinstance(message, VideoFailed) and message.level == "video":
                failed_at = time.monotonic()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--queue-url", help="default: VIDEO_PROCESSING_QUEUE_URL")
    parser.add_argument("--download", type=Path, help="save frames and JSON under DIR/<video>/")
    parser.add_argument("--video-id", help="only this video; exit after its summary")
    parser.add_argument("--wait", type=int, default=20, help="long-poll seconds")
    parser.add_argument(
        "--idle-exit",
        type=float,
        default=None,
        help="exit after this many seconds without messages",
    )


def main(argv: list[str] | None = None) -> int:
    return run_module(
        "python -m clients.video_consumer",
        __doc__.split("\n\n")[0],
        add_arguments,
        consume,
        argv,
        env_file=DEFAULT_ENV_FILE,
    )


if __name__ == "__main__":
    sys.exit(main())
