"""Frame sampling and the Kinesis batch writer's retries (botocore Stubber: exact AWS shapes)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from tests.support.video_samples import use_container

use_container("frame_extractor")

from frame_extractor.errors import StreamWriteError  # noqa: E402
from frame_extractor.kinesis_writer import KinesisBatchWriter  # noqa: E402
from frame_extractor.sampling import FrameSampler  # noqa: E402
from frame_extractor.video_decoder import sniff_container  # noqa: E402


def _kept(sampler: FrameSampler, n: int) -> list[int]:
    return [i for i in range(n) if sampler.keep(i)]


def test_every_nth_frame():
    assert _kept(FrameSampler(every_n=3), 10) == [0, 3, 6, 9]


def test_target_fps_keeps_the_average_rate():
    kept = _kept(FrameSampler(target_fps=12, source_fps=30), 300)
    assert len(kept) == 120
    assert kept[:5] == [0, 3, 5, 8, 10]


def test_target_fps_above_the_source_keeps_every_frame():
    assert _kept(FrameSampler(target_fps=60, source_fps=25), 5) == [0, 1, 2, 3, 4]


def test_container_sniffing():
    assert sniff_container(b"\x00\x00\x00\x18ftypmp42") == "mp4/mov"
    assert sniff_container(b"RIFF\x00\x00\x00\x00AVI LIST") == "avi"
    assert sniff_container(b"\x1a\x45\xdf\xa3\x01") == "matroska"
    assert sniff_container(b"\xff\xd8\xff\xe0\x00\x10JFIF") is None


def _writer():
    client = boto3.client("kinesis")
    return client, Stubber(client)


def test_partial_failures_are_resent_alone():
    # Given a stream that refuses the second of three records once
    client, stub = _writer()
    stub.add_response(
        "put_records",
        {
            "FailedRecordCount": 1,
            "Records": [
                {"SequenceNumber": "1", "ShardId": "s"},
                {
                    "ErrorCode": "ProvisionedThroughputExceededException",
                    "ErrorMessage": "slow down",
                },
                {"SequenceNumber": "3", "ShardId": "s"},
            ],
        },
    )
    stub.add_response(
        "put_records",
        {"Records": [{"SequenceNumber": "2", "ShardId": "s"}]},
        expected_params={"StreamName": "frames", "Records": [{"Data": b"b", "PartitionKey": "v"}]},
    )
    writer = KinesisBatchWriter(client, "frames", sleep=lambda _s: None)

    # When three records are written
    with stub:
        for data in (b"a", b"b", b"c"):
            writer.add(data, "v")
        writer.flush()

    # Then all three are written with one retry of the refused one
    assert (writer.records_written, writer.retries) == (3, 1)
    stub.assert_no_pending_responses()


def test_throttled_calls_are_retried_then_reported():
    # Given a stream that throttles every call
    client, stub = _writer()
    for _ in range(3):
        stub.add_client_error("put_records", "ProvisionedThroughputExceededException")
    writer = KinesisBatchWriter(client, "frames", max_attempts=3, sleep=lambda _s: None)

    # When a record is written
    # Then the writer gives up after max_attempts with a clear error
    writer.add(b"a", "v")
    with stub, pytest.raises(StreamWriteError, match="ProvisionedThroughputExceeded"):
        writer.flush()


def test_batches_stay_under_500_records():
    client, stub = _writer()
    stub.add_response(
        "put_records", {"Records": [{"SequenceNumber": str(i), "ShardId": "s"} for i in range(500)]}
    )
    stub.add_response("put_records", {"Records": [{"SequenceNumber": "500", "ShardId": "s"}]})
    writer = KinesisBatchWriter(client, "frames")
    with stub:
        for i in range(501):
            writer.add(str(i).encode(), "v")
        writer.flush()
    assert writer.records_written == 501
