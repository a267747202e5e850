"""What the YOLO stream tests share: the stream's AWS resources (in whatever moto the SDK points
at), frame records as the frame extractor writes them, and the results queue's messages."""

from __future__ import annotations

import base64

import boto3
import cv2
import numpy as np

from pipeline_common.contracts.video import FrameRecord, parse_video_message
from tests.support.tables import create_table

STREAM = "VideoFrameStream"
TABLE = "VideoCheckpoints"
BUCKET = "video-frames"


def create_stream_resources(shards: int, *, versioned_bucket: bool = False) -> str:
    """The frames bucket, the Kinesis stream, the checkpoint table and the results FIFO queue;
    returns the queue's URL. A versioned bucket counts how often each frame was written."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    if versioned_bucket:
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    boto3.client("kinesis").create_stream(StreamName=STREAM, ShardCount=shards)
    create_table("StreamCheckpointsTable", TABLE)
    return str(
        boto3.client("sqs").create_queue(
            QueueName="video-results.fifo",
            Attributes={"FifoQueue": "true", "VisibilityTimeout": "60"},
        )["QueueUrl"]
    )


def frame_record(
    video: str, index: int, image: np.ndarray, total_frames: int | None = None
) -> bytes:
    """One frame as the frame extractor puts it on the stream (JPEG inline, 10 fps)."""
    jpeg = cv2.imencode(".jpg", image)[1].tobytes()
    return (
        FrameRecord(
            video_id=video,
            frame_index=index,
            timestamp_ms=index * 100.0,
            total_frames=total_frames,
            width=image.shape[1],
            height=image.shape[0],
            data_b64=base64.b64encode(jpeg).decode(),
        )
        .model_dump_json(exclude_none=True)
        .encode()
    )


def drain_video_messages(queue_url: str) -> list[tuple[object, dict]]:
    """Every message on the results queue (parsed, with its SQS attributes), deleted."""
    sqs = boto3.client("sqs")
    out = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            return out
        for message in batch:
            out.append((parse_video_message(message["Body"]), message["Attributes"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
