"""What the YOLO consumer counts against a record (its own fault) and what it retries for ever
(an outage), and what a given-up record's reason may say about the error."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from tests.support.video_samples import use_container

use_container("yolo_stream")

from yolo_stream.errors import short_error  # noqa: E402
from yolo_stream.shard_consumer import is_outage  # noqa: E402


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutObject",
    )


@pytest.mark.parametrize(
    ("exc", "outage"),
    [
        (_client_error("SlowDown", 503), True),
        (_client_error("InternalError", 500), True),
        (_client_error("ProvisionedThroughputExceededException", 400), True),
        (_client_error("ThrottlingException", 400), True),
        (_client_error("WeirdNewServerError", 502), True),
        (EndpointConnectionError(endpoint_url="https://s3"), True),
        (ReadTimeoutError(endpoint_url="https://sqs"), True),
        (ConnectionResetError(), True),
        (_client_error("InvalidParameterValue", 400), False),
        (_client_error("AccessDenied", 403), False),
        (ValueError("operands could not be broadcast"), False),
        (MemoryError(), False),
        (KeyError("boxes"), False),
    ],
)
def test_outages_are_told_from_the_records_own_faults(exc: BaseException, outage: bool):
    assert is_outage(exc) is outage


def test_a_short_error_keeps_the_type_and_the_first_line_only():
    exc = ValueError("first line of the message\nTraceback (most recent call last):\n  data")
    assert short_error(exc) == "ValueError: first line of the message"
    assert short_error(RuntimeError("x" * 500)).endswith("...")
    assert len(short_error(RuntimeError("x" * 500))) == len("RuntimeError: ") + 160
    assert short_error(MemoryError()) == "MemoryError"
