"""Stream frames from a video file or a camera to VideoFrameStream (OpenCV capture ->
Kinesis ``PutRecords``), in the same records the frame extractor writes, so the YOLO service treats
both alike.

    python -m clients.video_producer street.mp4 --stream VideoFrameStream            # source rate
    python -m clients.video_producer street.mp4 --max-rate                           # flat out
    python -m clients.video_producer 0 --fps 5 --video-id cam-desk                   # camera 0

``--stream`` defaults to ``VIDEO_FRAME_STREAM_NAME`` from the environment or the env file
(``.env.local``, written by gen_env or the local cloud); ``AWS_*`` keys there (the local cloud's
endpoint) are applied when not already set. Ctrl-C ends the stream cleanly with its end marker.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT / "layers" / "common", ROOT / "containers" / "frame_extractor"):
    if str(_path) not in sys.path:  # the clients run from a checkout, not an installed package
        sys.path.insert(0, str(_path))

import cv2  # noqa: E402

from clients.cli import emit, progress, run_module, say  # noqa: E402
from clients.env import parse_env  # noqa: E402
from frame_extractor.kinesis_writer import KinesisBatchWriter  # noqa: E402
from pipeline_common import aws  # noqa: E402
from pipeline_common.contracts.common import S3Location  # noqa: E402
from pipeline_common.contracts.video import (  # noqa: E402
    KINESIS_MAX_RECORD_BYTES,
    EndOfVideoRecord,
    FrameRecord,
    oversize_frame_key,
)

DEFAULT_ENV_FILE = Path(".env.local")


def env_value(key: str, env_file: Path) -> str | None:
    """The process environment first, then the env file; also applies its AWS_* settings."""
    values = parse_env(env_file.read_text(), source=str(env_file)) if env_file.is_file() else {}
    for name, value in values.items():
        if name.startswith("AWS_") and name not in os.environ:
            os.environ[name] = value
    return os.environ.get(key) or values.get(key)


def open_source(source: str) -> cv2.VideoCapture:
    device = int(source) if source.isdigit() else source
    capture = cv2.VideoCapture(device)
    if not capture.isOpened():
        raise SystemExit(f"video_producer: cannot open {source!r} (not a readable video or camera)")
    return capture


def produce(args: argparse.Namespace) -> int:
    stream = args.stream or env_value("VIDEO_FRAME_STREAM_NAME", args.env_file)
    frames_bucket = args.frames_bucket or env_value("VIDEO_FRAMES_BUCKET_NAME", args.env_file)
    if not stream:
        raise SystemExit(
            "video_producer: no --stream and no VIDEO_FRAME_STREAM_NAME in the env file"
        )
    capture = open_source(args.source)
    is_camera = args.source.isdigit() or args.source.startswith("/dev/")
    source_fps = capture.get(cv2.CAP_PROP_FPS) or None
    count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    total = int(count) if not is_camera and 0 < count < 1e9 else None
    pace = None if args.max_rate else (args.fps or (None if is_camera else source_fps))
    video_id = args.video_id or f"p{uuid.uuid4().hex[:20]}"
    writer = KinesisBatchWriter(aws.client("kinesis"), stream)
    s3 = aws.client("s3") if frames_bucket else None
    params = [cv2.IMWRITE_JPEG_QUALITY, args.jpeg_quality]
    sent, index, last_index = 0, 0, None
    started = time.monotonic()
    say(
        args,
        f"streaming {args.source} as video {video_id} to {stream} "
        f"({'max rate' if pace is None else f'{pace:g} fps'})",
    )
    wanted = total if args.max_frames is None else min(total or args.max_frames, args.max_frames)
    bar = progress(args, total=wanted, desc=f"video {video_id}", unit="frame")
    try:
        while args.max_frames is None or sent < args.max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            if index % args.every_n:
                index += 1
                continue
            if pace:
                time.sleep(max(0.0, started + sent / pace - time.monotonic()))
            jpeg = cv2.imencode(".jpg", frame, params)[1].tobytes()
            fields = {
                "video_id": video_id,
                "frame_index": index,
                "total_frames": total,
                "timestamp_ms": round(index * 1000 / source_fps, 3)
                if source_fps and not is_camera
                else round((time.monotonic() - started) * 1000, 3),
                "width": frame.shape[1],
                "height": frame.shape[0],
            }
            data = FrameRecord(**fields, data_b64=base64.b64encode(jpeg).decode()).model_dump_json()
            if len(data) + len(video_id) > KINESIS_MAX_RECORD_BYTES:
                if s3 is None or frames_bucket is None:
                    print(
                        f"frame {index}: too large for a record and no --frames-bucket; skipped",
                        file=sys.stderr,
                    )
                    index += 1
                    continue
                key = oversize_frame_key(video_id, index)
                s3.put_object(Bucket=frames_bucket, Key=key, Body=jpeg, ContentType="image/jpeg")
                data = FrameRecord(
                    **fields, s3=S3Location(bucket=frames_bucket, key=key)
                ).model_dump_json()
            writer.add(data.encode(), video_id)
            if pace or sent % 50 == 49:  # live: each frame now; flat out: in batches
                writer.flush()
            sent, last_index = sent + 1, index
            bar.update(1)
            index += 1
    except KeyboardInterrupt:
        print("interrupted: ending the stream", file=sys.stderr)
    finally:
        bar.close()
        capture.release()
        writer.flush()
    end = EndOfVideoRecord(
        video_id=video_id,
        frames_sent=sent,
        last_frame_index=last_index,
        total_frames=total,
        source_fps=source_fps,
    )
    writer.add(end.model_dump_json().encode(), video_id)
    writer.flush()
    elapsed = time.monotonic() - started
    say(
        args,
        f"sent {sent} frames of video {video_id} in {elapsed:.1f}s "
        f"({sent / elapsed if elapsed else 0:.1f} frames/s)",
    )
    document = {"video_id": video_id, "frames_sent": sent, "seconds": round(elapsed, 3)}
    emit(args, document, text=video_id)
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="video file, or a camera index (0) / device (/dev/video0)")
    parser.add_argument("--stream", help="Kinesis stream (default: VIDEO_FRAME_STREAM_NAME)")
    rate = parser.add_mutually_exclusive_group()
    rate.add_argument("--fps", type=float, help="send at this rate (default: the source's)")
    rate.add_argument("--max-rate", action="store_true", help="send as fast as possible")
    parser.add_argument("--video-id", help="default: a new random id")
    parser.add_argument("--every-n", type=int, default=1, help="send every Nth frame")
    parser.add_argument("--max-frames", type=int, default=None)
    parser.add_argument("--jpeg-quality", type=int, default=85)
    parser.add_argument("--frames-bucket", help="for frames over 1 MiB (VIDEO_FRAMES_BUCKET_NAME)")


def main(argv: list[str] | None = None) -> int:
    return run_module(
        "python -m clients.video_producer",
        __doc__.split("\n\n")[0],
        add_arguments,
        produce,
        argv,
        env_file=DEFAULT_ENV_FILE,
    )


if __name__ == "__main__":
    sys.exit(main())
