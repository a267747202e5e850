"""From an S3 notification to one ``ImageProcessingStateMachine`` execution per object version.

Idempotency: the execution name is a hash of bucket, key and version id (or ETag when the bucket
is unversioned), so a redelivered notification or a retried invocation finds the execution
already there (``ExecutionAlreadyExists``) and does nothing. The correlation id is that same name,
so every message about one object version carries the same id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote_plus

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord
from botocore.exceptions import ClientError
from dispatcher_errors import DispatchFailed
from dispatcher_settings import DispatcherSettings

from pipeline_common.aws import client
from pipeline_common.contracts import S3Location
from pipeline_common.contracts.image import (
    SUPPORTED_EXTENSIONS,
    ImageProcessingInput,
    ImageProcessingResult,
    ImageStatus,
)
from pipeline_common.observability import logger, metrics

EXECUTION_NAME_PREFIX = "img-"
Outcome = Literal["started", "duplicate", "rejected", "ignored"]


@dataclass(frozen=True, slots=True)
class CreatedObject:
    bucket: str
    key: str  # URL-decoded, as S3 stores it
    version_id: str | None
    etag: str | None
    size: int

    @property
    def location(self) -> S3Location:
        return S3Location(bucket=self.bucket, key=self.key, version_id=self.version_id)


@dataclass
class DispatchSummary:
    started: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "ignored": self.ignored,
        }


def is_s3_test_event(event: dict[str, Any]) -> bool:
    """S3 sends one ``s3:TestEvent`` (no ``Records``) when a notification is configured."""
    return event.get("Event") == "s3:TestEvent"


def execution_name(bucket: str, key: str, version_id: str | None, etag: str | None) -> str:
    """Deterministic, valid for Step Functions (<= 80 chars of [0-9a-z-]) whatever the key holds."""
    identity = "\n".join((bucket, key, f"version:{version_id}" if version_id else f"etag:{etag}"))
    return EXECUTION_NAME_PREFIX + hashlib.sha256(identity.encode("utf-8")).hexdigest()


def created_object(record: S3EventRecord) -> CreatedObject:
    s3 = record.s3
    raw = s3.get_object.raw_event
    # Keys arrive URL-encoded with '+' for spaces ("my+photo%C3%A9.jpg" is "my photoé.jpg").
    key = unquote_plus(s3.get_object.key)
    etag = (raw.get("eTag") or "").strip('"') or None
    return CreatedObject(
        bucket=s3.bucket.name,
        key=key,
        version_id=s3.get_object.version_id or None,
        etag=etag,
        size=s3.get_object.size,  # always present for ObjectCreated; absent -> record fails
    )


def rejection_reason(obj: CreatedObject, *, max_bytes: int) -> str | None:
    """Why this object is not worth a state machine execution, or None when it is."""
    suffix = "." + obj.key.rsplit(".", 1)[-1].lower() if "." in obj.key else ""
    if suffix not in SUPPORTED_EXTENSIONS:
        expected = ", ".join(SUPPORTED_EXTENSIONS)
        return f"unsupported extension '{suffix or 'none'}' (expected one of {expected})"
    if obj.size == 0:
        return "input object is empty (0 bytes)"
    if obj.size > max_bytes:
        return f"input is {obj.size} bytes, more than the {max_bytes} allowed"
    return None


def report_rejection(obj: CreatedObject, reason: str, correlation_id: str, queue_url: str) -> None:
    result = ImageProcessingResult(
        status=ImageStatus.FAILED,
        stage="dispatch",
        reason=reason,
        correlation_id=correlation_id,
        input=obj.location,
        input_bytes=obj.size,
    )
    client("sqs").send_message(
        QueueUrl=queue_url,
        MessageBody=result.model_dump_json(),
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": result.kind},
            "status": {"DataType": "String", "StringValue": result.status.value},
        },
    )


def start_processing(obj: CreatedObject, name: str, state_machine_arn: str) -> bool:
    """Start the execution; False when this object version already has one."""
    execution_input = ImageProcessingInput(
        bucket=obj.bucket,
        key=obj.key,
        version_id=obj.version_id,
        etag=obj.etag,
        size=obj.size,
        correlation_id=name,
    )
    try:
        client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn,
            name=name,
            input=execution_input.model_dump_json(),
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
            return False
        raise
    return True


def dispatch_record(record: S3EventRecord, settings: DispatcherSettings) -> Outcome:
    if not record.event_name.startswith("ObjectCreated:"):
        logger.info("not an object creation, ignored", extra={"event_name": record.event_name})
        return "ignored"
    obj = created_object(record)
    name = execution_name(obj.bucket, obj.key, obj.version_id, obj.etag)
    log = {"bucket": obj.bucket, "key": obj.key, "version_id": obj.version_id, "execution": name}

    reason = rejection_reason(obj, max_bytes=settings.max_object_bytes)
    if reason is not None:
        report_rejection(obj, reason, name, settings.metrics_queue_url)
        logger.warning("object rejected", extra={**log, "reason": reason})
        metrics.add_metric(name="ImagesRejected", unit=MetricUnit.Count, value=1)
        return "rejected"
    if not start_processing(obj, name, settings.state_machine_arn):
        logger.info("object version already processed or in progress", extra=log)
        metrics.add_metric(name="ImagesAlreadyDispatched", unit=MetricUnit.Count, value=1)
        return "duplicate"
    logger.info("processing started", extra=log)
    metrics.add_metric(name="ImagesDispatched", unit=MetricUnit.Count, value=1)
    return "started"


def dispatch_event(event: dict[str, Any], settings: DispatcherSettings) -> DispatchSummary:
    """Dispatch every record; raise ``DispatchFailed`` at the end if any failed unexpectedly."""
    summary = DispatchSummary()
    if is_s3_test_event(event):
        logger.info("s3:TestEvent ignored", extra={"bucket": event.get("Bucket")})
        metrics.add_metric(name="NotificationsIgnored", unit=MetricUnit.Count, value=1)
        summary.ignored.append("s3:TestEvent")
        return summary

    records = list(S3Event(event).records)
    failed: list[str] = []
    for index, record in enumerate(records):
        label = f"#{index}"
        try:
            label = f"s3://{record.s3.bucket.name}/{unquote_plus(record.s3.get_object.key)}"
            outcome = dispatch_record(record, settings)
        except Exception:
            logger.exception("record failed", extra={"record": label})
            failed.append(label)
            continue
        getattr(summary, "duplicates" if outcome == "duplicate" else outcome).append(label)
    if failed:
        raise DispatchFailed(failed, total=len(records))
    return summary
