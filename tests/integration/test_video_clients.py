"""Producer and consumer CLIs against moto."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from clients import video_consumer, video_producer
from pipeline_common.contracts.video import EndOfVideoRecord, FrameRecord, parse_stream_record
from tests.support.video_samples import make_video


@pytest.fixture
def cloud(mocked_aws: None):
    boto3.client("kinesis").create_stream(StreamName="frames", ShardCount=1)
    return


def test_producer_streams_a_file_then_its_end_marker(cloud, tmp_path: Path, capsys):
    # Given a 6-frame video
    video = make_video(tmp_path / "bus.mp4", frames=6, fps=10)

    # When the producer sends every 2nd frame as fast as possible
    assert (
        video_producer.main(
            [
                str(video),
                "--stream",
                "frames",
                "--max-rate",
                "--every-n",
                "2",
                "--video-id",
                "cli01",
                "--env-file",
                str(tmp_path / "none"),
            ]
        )
        == 0
    )

    # Then frames 0, 2, 4 and the end marker are on the stream, partitioned by video id
    kinesis = boto3.client("kinesis")
    it = kinesis.get_shard_iterator(
        StreamName="frames", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = [
        parse_stream_record(r["Data"]) for r in kinesis.get_records(ShardIterator=it)["Records"]
    ]
    assert [r.frame_index for r in records if isinstance(r, FrameRecord)] == [0, 2, 4]
    assert isinstance(records[-1], EndOfVideoRecord)
    assert records[-1].frames_sent == 3
    assert capsys.readouterr().out.strip() == "cli01"


def test_producer_reads_the_stream_name_from_the_env_file(cloud, tmp_path: Path, monkeypatch):
    monkeypatch.delenv("VIDEO_FRAME_STREAM_NAME", raising=False)
    env_file = tmp_path / ".env.local"
    env_file.write_text("VIDEO_FRAME_STREAM_NAME=frames\n")
    video = make_video(tmp_path / "bus.avi", frames=2, fps=10)
    assert video_producer.main([str(video), "--max-rate", "--env-file", str(env_file)]) == 0


def test_producer_refuses_an_unreadable_source(cloud, tmp_path: Path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"nope")
    with pytest.raises(SystemExit, match="cannot open"):
        video_producer.main([str(bad), "--stream", "frames", "--env-file", str(tmp_path / "x")])


def test_consumer_prints_frames_and_the_summary_and_downloads(cloud, tmp_path: Path, capsys):
    # Given a frame result (with its outputs in S3) and the summary on the queue
    events = Path(__file__).resolve().parents[2] / "events"
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="r.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="video-frames")
    stem = "frames/v0a1b2c3d4e5f6a7b8c9d/000012"
    s3.put_object(Bucket="video-frames", Key=f"{stem}.jpg", Body=b"jpeg")
    s3.put_object(Bucket="video-frames", Key=f"{stem}.json", Body=b"{}")
    for name in ("video_frame_result.json", "video_summary.json"):
        sqs.send_message(
            QueueUrl=queue,
            MessageBody=(events / name).read_text(),
            MessageGroupId="g",
            MessageDeduplicationId=name,
        )

    # When the consumer follows that video
    code = video_consumer.main(
        [
            "--queue-url",
            queue,
            "--video-id",
            "v0a1b2c3d4e5f6a7b8c9d",
            "--download",
            str(tmp_path / "out"),
            "--wait",
            "0",
            "--env-file",
            str(tmp_path / "none"),
        ]
    )

    # Then it prints the detections and the summary, saves the outputs and empties the queue
    out = capsys.readouterr().out
    assert code == 0
    assert "frame 12 @ 400 ms: person 0.87 [102,220,340,900]" in out
    assert "SUMMARY 299/300 frames (1 failed), detections: car=420, person=871" in out
    assert (tmp_path / "out" / "v0a1b2c3d4e5f6a7b8c9d" / "000012.jpg").read_bytes() == b"jpeg"
    assert "Messages" not in sqs.receive_message(QueueUrl=queue)
