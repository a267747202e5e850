"""Reading S3 notifications, direct or through SQS, with Powertools' data classes: the sample
events of both dispatchers and events shaped as Powertools documents them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord

from pipeline_common.s3_dispatch.failures import Failures
from pipeline_common.s3_dispatch.notifications import (
    CreatedObject,
    Notification,
    created_object,
    direct_notification,
    for_each_record,
    is_s3_test_event,
    notifications,
)

EVENTS = Path(__file__).resolve().parents[2] / "events"


def _event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def _objects(event: dict[str, Any]) -> tuple[list[CreatedObject], Failures]:
    seen: list[CreatedObject] = []
    failures = Failures()

    def handle(_: Notification, record: S3EventRecord) -> None:
        seen.append(created_object(record))

    for_each_record(notifications(event), handle, failures)
    return seen, failures


def _sqs(*bodies: Any) -> dict[str, Any]:
    """An SQS batch as Lambda delivers it (the shape Powertools' SQSEvent reads)."""
    return {
        "Records": [
            {
                "messageId": f"059f36b4-87a3-44ab-83d2-66197504462{index}",
                "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1545082649183",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": "1545082649185",
                },
                "messageAttributes": {},
                "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:my-queue",
                "awsRegion": "us-east-2",
            }
            for index, body in enumerate(bodies)
        ]
    }


def _powertools_s3_put(key: str, **object_fields: Any) -> dict[str, Any]:
    """The S3 put notification of Powertools' documentation (no versionId: unversioned bucket)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-2",
                "eventTime": "2019-09-03T19:37:27.192Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AIDAINPONIXQXHT3IKHL2"},
                "requestParameters": {"sourceIPAddress": "205.255.255.255"},
                "responseElements": {
                    "x-amz-request-id": "D82B88E5F771F645",
                    "x-amz-id-2": "vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQjryTjKlc5aLWGVHPZLj5NeC6qMa0em",
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "828aa6fc-f7b5-4305-8584-487c791949c1",
                    "bucket": {
                        "name": "lambda-artifacts-deafc19498e3f2df",
                        "ownerIdentity": {"principalId": "A3I5XTEXAMAI3E"},
                        "arn": "arn:aws:s3:::lambda-artifacts-deafc19498e3f2df",
                    },
                    "object": {
                        "key": key,
                        "size": 1305107,
                        "eTag": "b21b84d653bb07b05b1e6b33684dc11b",
                        "sequencer": "0C0F6F405D6ED209E1",
                        **object_fields,
                    },
                },
            }
        ]
    }


def test_a_direct_s3_event_is_one_notification_without_a_message() -> None:
    # Given the image dispatcher's sample put event, as S3 invokes a function with it
    event = _event("image_dispatcher_s3_put.json")

    # When it is read
    (note,) = notifications(event)
    objects, failures = _objects(event)

    # Then it has no SQS message id and announces one versioned object
    assert note.message_id is None
    assert objects == [
        CreatedObject(
            bucket="image-input-bucket",
            key="uploads/bus.jpg",
            version_id=event["Records"][0]["s3"]["object"]["versionId"],
            etag=event["Records"][0]["s3"]["object"]["eTag"],
            size=137419,
        )
    ]
    assert failures.settle(total=1) == []


def test_the_video_sample_upload_decodes_its_key() -> None:
    # Given the video dispatcher's sample upload ('+' for a space in the key)
    # When it is read
    (video,), _ = _objects(_event("video_dispatcher_upload.json"))

    # Then the key is the one S3 stores, and the version is kept
    assert video.key == "uploads/street scene.mp4"
    assert video.version_id == "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY"
    assert video.location.version_id == video.version_id


def test_an_sqs_batch_carries_one_s3_event_per_message() -> None:
    # Given the image intake queue's sample batch
    event = _event("image_dispatcher_sqs_batch.json")

    # When it is read
    notes = notifications(event)
    objects, _ = _objects(event)

    # Then each message's id is kept with the S3 event in its body
    assert [n.message_id for n in notes] == [r["messageId"] for r in event["Records"]]
    assert objects[0].key == "uploads/bus.jpg"
    assert len(objects) == len(event["Records"])


def test_a_powertools_shaped_unversioned_object_is_told_apart_by_its_etag() -> None:
    # Given Powertools' sample put, in an SQS message, for an unversioned bucket and an encoded key
    event = _sqs(_powertools_s3_put("photos/caf%C3%A9+terrace.jpg", eTag='"abc-2"'))

    # When it is read
    (obj,), _ = _objects(event)

    # Then the key is decoded, there is no version, and the ETag lost its quotes
    assert obj.key == "photos/café terrace.jpg"
    assert obj.version_id is None
    assert obj.etag == "abc-2"
    assert obj.size == 1305107


@pytest.mark.parametrize(
    "sample", ["image_dispatcher_test_event.json", "video_dispatcher_test_event.json"]
)
def test_s3_test_event_is_skipped_directly_and_through_sqs(sample: str) -> None:
    # Given S3's test event, straight from S3 and inside an SQS message
    test_event = _event(sample)
    skipped: list[str] = []

    for event in (test_event, _sqs(test_event)):
        # When it is read
        (note,) = notifications(event)
        failures = Failures()
        for_each_record(
            [note], lambda *_: None, failures, on_test_event=lambda: skipped.append("t")
        )

        # Then it is recognised, skipped and no failure
        assert is_s3_test_event(test_event)
        assert note.is_test_event
        assert failures.labels == []
    assert skipped == ["t", "t"]
    assert not is_s3_test_event(_event("image_dispatcher_s3_put.json"))


def test_a_message_that_is_not_an_s3_event_fails_alone() -> None:
    # Given a batch: not JSON, JSON without records, then a good notification
    event = _sqs("not json", {"hello": "world"}, _powertools_s3_put("a.jpg"))

    # When it is read
    objects, failures = _objects(event)

    # Then the good object is read, and only the two broken messages are returned for a retry
    assert [o.key for o in objects] == ["a.jpg"]
    ids = [r["messageId"] for r in event["Records"]]
    assert failures.settle(total=3) == sorted(ids[:2])


def test_a_broken_record_is_named_by_its_object() -> None:
    # Given a direct event whose second record has no size
    event = _powertools_s3_put("good.jpg")
    broken = json.loads(json.dumps(event["Records"][0]))
    broken["s3"]["object"] = {"key": "dir/broken+one.jpg"}
    event["Records"].append(broken)

    # When it is read
    objects, failures = _objects(event)

    # Then the first object is still read and the failure names the broken object
    assert [o.key for o in objects] == ["good.jpg"]
    assert failures.labels == ["s3://lambda-artifacts-deafc19498e3f2df/dir/broken one.jpg"]


def test_a_direct_event_without_records_is_a_failure() -> None:
    # Given something that is neither an S3 event nor S3's test event
    # When it is read
    note = direct_notification({"detail-type": "Object Created"})

    # Then it is not an S3 event, and reading it fails rather than passing silently
    failures = Failures()
    for_each_record([note], lambda *_: None, failures)
    assert note.event is None
    assert failures.labels == ["#0"]
