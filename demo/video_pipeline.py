"""Drive the video pipeline: build a short real video (a pan and zoom over Ultralytics' street
photo), upload it as the demo user (``POST /uploads``), and print each frame's detections and the
end-of-video summary."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from clients.auth import TokenSource
from clients.env import Endpoints
from clients.ws_client import RestApi
from demo.report import block, line, section
from demo.samples import ultralytics_photo
from demo.uploads import upload
from localcloud.cloud import LocalCloud
from pipeline_common.contracts.video import (
    FrameResult,
    VideoFailed,
    VideoSummary,
    parse_video_message,
    video_id_for,
)


def street_video(path: Path, frames: int = 30, size: tuple[int, int] = (640, 360)) -> Path:
    """``frames`` frames at 10 fps: a window that zooms in while panning across bus.jpg."""
    image = cv2.imread(str(ultralytics_photo("bus.jpg")))
    height, width = image.shape[:2]
    aspect = size[0] / size[1]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 10.0, size)
    for index in range(frames):
        t = index / max(frames - 1, 1)
        win_w = min(width, height * aspect) * (1.0 - 0.25 * t)
        win_h = win_w / aspect
        x0, y0 = (width - win_w) * t, (height - win_h) * 0.5
        crop = image[int(y0) : int(y0 + win_h), int(x0) : int(x0 + win_w)]
        writer.write(np.ascontiguousarray(cv2.resize(crop, size, interpolation=cv2.INTER_AREA)))
    writer.release()
    return path


def run(cloud: LocalCloud, login: TokenSource, timeout: float = 240.0) -> dict[str, Any] | None:
    section("Video pipeline: S3 -> frame extractor -> Kinesis -> YOLO service -> S3 + FIFO queue")
    s3, sqs = cloud.client("s3"), cloud.client("sqs")
    bucket = cloud.outputs["VideoInputBucketName"]
    api = RestApi(Endpoints(cloud.outputs["RestApiUrl"], cloud.outputs["WebsocketUrl"]), login)
    with tempfile.TemporaryDirectory() as folder:
        data = street_video(Path(folder) / "street.mp4").read_bytes()
    key = upload(api, "video", "street.mp4", data, "video/mp4")
    version = s3.head_object(Bucket=bucket, Key=key).get("VersionId")
    video_id = video_id_for(bucket, key, version)
    line("uploaded", f"s3://{bucket}/{key} ({len(data):,} bytes), video id {video_id}")
    queue = cloud.outputs["VideoProcessingQueueUrl"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for raw in batch.get("Messages", []):
            message = parse_video_message(raw["Body"])
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=raw["ReceiptHandle"])
            if message.video_id != video_id:
                continue
            if isinstance(message, FrameResult):
                found = (
                    ", ".join(f"{d.class_name} {d.confidence:.2f}" for d in message.detections)
                    or "nothing"
                )
                line(f"frame {message.frame_index}", found)
                line(
                    "  annotated",
                    f"s3://{message.outputs.annotated.bucket}/{message.outputs.annotated.key}",
                )
            elif isinstance(message, VideoFailed):
                line("failed", f"{message.level}: {message.reason}")
            elif isinstance(message, VideoSummary):
                line("summary", "")
                block(message.model_dump(mode="json"))
                return message.model_dump(mode="json")
    line("video", "no summary in time")
    return None
