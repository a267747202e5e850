"""S3 notifications read with Powertools' data classes, whichever way they came.

S3 invokes a function directly with an ``S3Event``; through a queue, each SQS message's body is
one S3 event (``SQSEvent`` with nested ``S3Event``s). Either way a dispatcher sees a list of
``Notification``: the SQS message id (None for a direct invocation, which Lambda retries as a
whole) and the S3 event, or None when a body is not an S3 event at all.

S3 sends one ``s3:TestEvent`` (no ``Records``) when a notification is configured, also through
a queue: it is skipped, logged and counted, never an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, SQSEvent
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from pipeline_common.contracts import S3Location
from pipeline_common.observability import logger, metrics
from pipeline_common.s3_dispatch.failures import Failures

TEST_EVENT = "s3:TestEvent"


@dataclass(frozen=True, slots=True)
class CreatedObject:
    """One object version S3 announced, as S3 stores it."""

    bucket: str
    key: str  # URL-decoded
    version_id: str | None  # None: the bucket is not versioned
    etag: str | None
    size: int

    @property
    def location(self) -> S3Location:
        return S3Location(bucket=self.bucket, key=self.key, version_id=self.version_id)


@dataclass(frozen=True, slots=True)
class Notification:
    """One S3 event as it arrived. ``label`` names it in logs and failures."""

    message_id: str | None  # the SQS message that carried it; None: S3 invoked directly
    event: S3Event | None  # None: not an S3 event (not JSON, or neither Records nor a test)
    label: str

    @property
    def is_test_event(self) -> bool:
        return self.event is not None and is_s3_test_event(self.event.raw_event)


def is_s3_test_event(event: Mapping[str, Any]) -> bool:
    """S3's ``s3:TestEvent``, sent once when a notification is configured (it has no records)."""
    return event.get("Event") == TEST_EVENT


def _s3_event(payload: Any) -> S3Event | None:
    if not isinstance(payload, dict):
        return None
    if is_s3_test_event(payload) or isinstance(payload.get("Records"), list):
        return S3Event(payload)
    return None


def direct_notification(event: dict[str, Any]) -> Notification:
    """The event S3 invoked the function with."""
    return Notification(message_id=None, event=_s3_event(event), label="#0")


def _from_message(record: SQSRecord) -> Notification:
    try:
        body = record.json_body
    except (KeyError, TypeError, ValueError):
        body = None
    return Notification(
        message_id=record.message_id, event=_s3_event(body), label=record.message_id
    )


def notifications(event: dict[str, Any]) -> list[Notification]:
    """The S3 events of an SQS batch, one per message; or the one S3 event of a direct call."""
    records = event.get("Records") or []
    if not records or records[0].get("eventSource") != "aws:sqs":
        return [direct_notification(event)]
    return [_from_message(record) for record in SQSEvent(event).records]


def created_object(record: S3EventRecord) -> CreatedObject:
    """The object of an ``ObjectCreated:*`` record. Keys arrive URL-encoded with '+' for spaces
    ("my+photo%C3%A9.jpg" is "my photoé.jpg"); a record without a size fails (every
    ObjectCreated record has one)."""
    announced = record.s3.get_object
    return CreatedObject(
        bucket=record.s3.bucket.name,
        key=unquote_plus(announced.key),
        version_id=announced.version_id or None,
        etag=announced.etag.strip('"') or None,
        size=announced.size,
    )


def record_label(record: S3EventRecord) -> str:
    return f"s3://{record.s3.bucket.name}/{unquote_plus(record.s3.get_object.key)}"


def for_each_record(
    notes: list[Notification],
    handle: Callable[[Notification, S3EventRecord], None],
    failures: Failures,
    on_test_event: Callable[[], None] = lambda: None,
) -> None:
    """Call ``handle`` for every record of every notification. A record whose handling raises,
    or a message that is not an S3 event, is logged and added to ``failures``; the others go
    on, so one broken object never holds back the rest of the batch."""
    for note in notes:
        if note.event is None:
            logger.error("not an S3 notification", extra={"notification": note.label})
            failures.add(note.label, note.message_id)
            continue
        if note.is_test_event:
            logger.info("s3:TestEvent ignored", extra={"bucket": note.event.get("Bucket")})
            metrics.add_metric(name="NotificationsIgnored", unit=MetricUnit.Count, value=1)
            on_test_event()
            continue
        for index, record in enumerate(note.event.records):
            label = f"{note.label}#{index}"
            try:
                label = record_label(record)
                handle(note, record)
            except Exception:
                logger.exception("record failed", extra={"record": label})
                failures.add(label, note.message_id)
