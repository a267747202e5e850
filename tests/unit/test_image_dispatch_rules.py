"""The dispatcher's pure rules: execution names, key decoding, what is rejected and why."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.data_classes import S3Event

from tests.support.functions import load_function

EVENTS = Path(__file__).resolve().parents[2] / "events"
dispatcher = load_function("image_dispatcher", "dispatcher")


def _record(name: str):
    event = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return next(iter(S3Event(event).records))


def test_execution_name_is_deterministic_and_valid_for_step_functions() -> None:
    # Given the same object version twice, and a key full of characters names cannot hold
    key = "uploads/vacances d'été 2025/plage à midi.jpg"

    # When names are derived
    first = dispatcher.execution_name("bucket-a", key, "v1", "etag")
    second = dispatcher.execution_name("bucket-a", key, "v1", "etag")

    # Then they are equal and fit Step Functions' rules (<= 80 chars, safe characters)
    assert first == second
    assert len(first) <= 80
    assert re.fullmatch(r"[a-z0-9-]+", first)


@pytest.mark.parametrize(
    ("other"),
    [
        ("bucket-b", "a.jpg", "v1", None),
        ("bucket-a", "b.jpg", "v1", None),
        ("bucket-a", "a.jpg", "v2", None),
        ("bucket-a", "a.jpg", None, "etag-2"),
    ],
)
def test_execution_name_differs_for_another_object_or_version(other: tuple) -> None:
    # Given one object version
    base = dispatcher.execution_name("bucket-a", "a.jpg", "v1", None)

    # When / Then any other bucket, key, version or content has another name
    assert dispatcher.execution_name(*other) != base


def test_key_is_url_decoded() -> None:
    # Given a notification whose key is URL-encoded ('+' for spaces, UTF-8 percent escapes)
    record = _record("image_dispatcher_multipart_complete.json")

    # When the object is read from the record
    obj = dispatcher.created_object(record)

    # Then the key is the one S3 stores
    assert obj.key == "uploads/Holiday photo été.PNG"
    assert obj.version_id is None
    assert obj.etag == "9b2cf535f27731c974343645a3985328-3"


@pytest.mark.parametrize("key", ["a.jpg", "a.JPG", "dir/a.jpeg", "a.JpEg", "b.png", "b.PNG"])
def test_supported_extensions_in_any_case_pass(key: str) -> None:
    # Given an object with a supported extension in any letter case
    obj = dispatcher.CreatedObject(bucket="bkt", key=key, version_id=None, etag="e", size=10)

    # When / Then it is not rejected
    assert dispatcher.rejection_reason(obj, max_bytes=100) is None


@pytest.mark.parametrize(
    ("key", "size", "words"),
    [
        ("a.gif", 10, "unsupported extension '.gif'"),
        ("noextension", 10, "unsupported extension 'none'"),
        ("folder.jpg/", 0, "unsupported extension"),
        ("a.jpg.txt", 10, "'.txt'"),
        ("a.jpg", 0, "empty (0 bytes)"),
        ("a.png", 101, "101 bytes, more than the 100 allowed"),
    ],
)
def test_bad_objects_are_rejected_with_a_clear_reason(key: str, size: int, words: str) -> None:
    # Given an object the pipeline cannot process
    obj = dispatcher.CreatedObject(bucket="bkt", key=key, version_id=None, etag="e", size=size)

    # When it is checked
    reason = dispatcher.rejection_reason(obj, max_bytes=100)

    # Then the reason says what is wrong
    assert reason is not None
    assert words in reason


def test_s3_test_event_is_recognised() -> None:
    # Given the event S3 sends when a notification is configured
    event = json.loads((EVENTS / "image_dispatcher_test_event.json").read_text("utf-8"))

    # When / Then it is recognised as such, and a real notification is not
    assert dispatcher.is_s3_test_event(event)
    put = json.loads((EVENTS / "image_dispatcher_s3_put.json").read_text("utf-8"))
    assert not dispatcher.is_s3_test_event(put)
