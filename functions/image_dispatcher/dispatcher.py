"""From S3 notifications (delivered through ImageIntakeQueue, or straight from S3) to
``ImageProcessingStateMachine`` executions: one per object version (``per-object`` mode) or one
per SQS batch of objects (``batched`` mode).

Idempotency, per object: the object's id is a hash of bucket, key and version id (or ETag when the
bucket is unversioned). In per-object mode it is the execution name, so a redelivered
notification finds the execution already there (``ExecutionAlreadyExists``) and does nothing. In
batched mode the batch's execution name is a hash of its objects' ids (the same batch redelivered
starts nothing), and the task claims each object version in ImageClaimsTable before working on it
(a duplicate in another batch is skipped; see ``grayscale_task.claims``). The correlation id of
every message about one object version is that object id in both modes.
"""

from __future__ import annotations

import hashlib
import json
import time
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
    ImageBatchInput,
    ImageBatchManifest,
    ImageProcessingInput,
    ImageProcessingResult,
    ImageStatus,
)
from pipeline_common.observability import logger, metrics

EXECUTION_NAME_PREFIX = "img-"
BATCH_NAME_PREFIX = "imgb-"
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
    batches: list[str] = field(default_factory=list)  # batched mode: executions started
    # SQS message ids to retry (Lambda's partial batch response); empty for a direct S3 event.
    failed_messages: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "ignored": self.ignored,
            "batches": self.batches,
            "batchItemFailures": [{"itemIdentifier": m} for m in self.failed_messages],
        }


@dataclass(frozen=True, slots=True)
class Accepted:
    """An object worth processing, and the SQS message that brought it (None: a direct event)."""

    message_id: str | None
    label: str
    obj: CreatedObject
    name: str  # the object id: execution name in per-object mode, claim key in batched mode


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


def batch_name(object_ids: list[str]) -> str:
    """Deterministic for a set of objects: the same batch delivered again starts nothing new."""
    digest = hashlib.sha256("\n".join(sorted(set(object_ids))).encode("ascii")).hexdigest()
    return BATCH_NAME_PREFIX + digest


def as_input(obj: CreatedObject, name: str) -> ImageProcessingInput:
    return ImageProcessingInput(
        bucket=obj.bucket,
        key=obj.key,
        version_id=obj.version_id,
        etag=obj.etag,
        size=obj.size,
        correlation_id=name,
    )


def start_batch(accepted: list[Accepted], settings: DispatcherSettings) -> tuple[str, bool]:
    """Write the manifest, then start the batch's execution; (name, False) when it exists."""
    assert settings.manifest_bucket is not None  # checked by the settings
    objects = [as_input(a.obj, a.name) for a in accepted]
    name = batch_name([a.name for a in accepted])
    manifest = ImageBatchManifest(batch_id=name, objects=objects)
    manifest_location = S3Location(
        bucket=settings.manifest_bucket, key=f"{settings.manifest_prefix}{name}.json"
    )
    # Same name, same bytes: a retried invocation overwrites the manifest with itself.
    client("s3").put_object(
        Bucket=manifest_location.bucket,
        Key=manifest_location.key,
        Body=manifest.model_dump_json().encode(),
        ContentType="application/json",
    )
    execution_input = ImageBatchInput(
        batch_id=name,
        correlation_id=name,
        manifest=manifest_location,
        objects=objects,
        count=len(objects),
        batch_timeout_seconds=settings.batch_timeout_seconds,
        claim_expires_at=int(time.time()) + settings.claim_ttl_days * 86_400,
    )
    try:
        client("stepfunctions").start_execution(
            stateMachineArn=settings.state_machine_arn,
            name=name,
            input=execution_input.model_dump_json(),
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
            return name, False
        raise
    return name, True


def notifications(event: dict[str, Any]) -> list[tuple[str | None, dict[str, Any] | None]]:
    """(SQS message id, S3 event) pairs. A direct S3 invocation is one pair without an id; an
    SQS body that is not JSON gives None (that message fails, and goes to the DLQ in the end)."""
    records = event.get("Records") or []
    if not records or records[0].get("eventSource") != "aws:sqs":
        return [(None, event)]
    pairs: list[tuple[str | None, dict[str, Any] | None]] = []
    for record in records:
        try:
            body = json.loads(record["body"])
        except (KeyError, TypeError, ValueError):
            body = None
        pairs.append((record["messageId"], body if isinstance(body, dict) else None))
    return pairs


def _accept_record(
    message_id: str | None,
    record: S3EventRecord,
    settings: DispatcherSettings,
    summary: DispatchSummary,
) -> Accepted | None:
    """Ignored and rejected records are settled here (a rejection sends its FAILED message at
    once); an object worth processing is returned to be started."""
    if not record.event_name.startswith("ObjectCreated:"):
        logger.info("not an object creation, ignored", extra={"event_name": record.event_name})
        summary.ignored.append(record.event_name)
        return None
    obj = created_object(record)
    name = execution_name(obj.bucket, obj.key, obj.version_id, obj.etag)
    label = f"s3://{obj.bucket}/{obj.key}"
    reason = rejection_reason(obj, max_bytes=settings.max_object_bytes)
    if reason is not None:
        report_rejection(obj, reason, name, settings.metrics_queue_url)
        logger.warning("object rejected", extra={"key": obj.key, "reason": reason})
        metrics.add_metric(name="ImagesRejected", unit=MetricUnit.Count, value=1)
        summary.rejected.append(label)
        return None
    return Accepted(message_id=message_id, label=label, obj=obj, name=name)


def _start_each(accepted: list[Accepted], settings: DispatcherSettings, summary: DispatchSummary):
    failed: list[Accepted] = []
    for item in accepted:
        log = {"key": item.obj.key, "version_id": item.obj.version_id, "execution": item.name}
        try:
            started = start_processing(item.obj, item.name, settings.state_machine_arn)
        except Exception:
            logger.exception("could not start the execution", extra=log)
            failed.append(item)
            continue
        if started:
            logger.info("processing started", extra=log)
            metrics.add_metric(name="ImagesDispatched", unit=MetricUnit.Count, value=1)
            summary.started.append(item.label)
        else:
            logger.info("object version already processed or in progress", extra=log)
            metrics.add_metric(name="ImagesAlreadyDispatched", unit=MetricUnit.Count, value=1)
            summary.duplicates.append(item.label)
    return failed


def _start_batch(accepted: list[Accepted], settings: DispatcherSettings, summary: DispatchSummary):
    unique = list({a.name: a for a in accepted}.values())  # one object twice in one batch: once
    try:
        name, started = start_batch(unique, settings)
    except Exception:
        logger.exception("could not start the batch", extra={"objects": len(unique)})
        return accepted
    summary.batches.append(name)
    labels = [a.label for a in unique]
    if started:
        logger.info("batch started", extra={"execution": name, "objects": len(unique)})
        metrics.add_metric(name="ImageBatchesDispatched", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="ImagesDispatched", unit=MetricUnit.Count, value=len(unique))
        summary.started.extend(labels)
    else:
        logger.info("batch already started", extra={"execution": name})
        summary.duplicates.extend(labels)
    return []


def dispatch_event(event: dict[str, Any], settings: DispatcherSettings) -> DispatchSummary:
    """Dispatch every notification. From SQS, messages that failed are returned for a retry
    (``batchItemFailures``); from S3 directly, ``DispatchFailed`` is raised after every record was
    tried, so Lambda's async retries keep the event."""
    summary = DispatchSummary()
    accepted: list[Accepted] = []
    failed: list[str] = []
    failed_ids: set[str] = set()
    for index, (message_id, s3_event) in enumerate(notifications(event)):
        label = message_id or f"#{index}"
        if s3_event is None:
            logger.error("message is not an S3 notification", extra={"message_id": message_id})
            failed.append(label)
            if message_id:
                failed_ids.add(message_id)
            continue
        if is_s3_test_event(s3_event):
            logger.info("s3:TestEvent ignored", extra={"bucket": s3_event.get("Bucket")})
            metrics.add_metric(name="NotificationsIgnored", unit=MetricUnit.Count, value=1)
            summary.ignored.append("s3:TestEvent")
            continue
        for record_index, record in enumerate(S3Event(s3_event).records):
            record_label = f"{label}#{record_index}"
            try:
                record_label = (
                    f"s3://{record.s3.bucket.name}/{unquote_plus(record.s3.get_object.key)}"
                )
                item = _accept_record(message_id, record, settings, summary)
            except Exception:
                logger.exception("record failed", extra={"record": record_label})
                failed.append(record_label)
                if message_id:
                    failed_ids.add(message_id)
                continue
            if item is not None:
                accepted.append(item)

    if settings.dispatch_mode == "batched" and accepted:
        not_started = _start_batch(accepted, settings, summary)
    else:
        not_started = _start_each(accepted, settings, summary)
    for item in not_started:
        failed.append(item.label)
        if item.message_id:
            failed_ids.add(item.message_id)

    summary.failed_messages = sorted(failed_ids)
    if failed and not failed_ids:  # a direct S3 invocation: let Lambda retry the event
        total = len(failed) + len(summary.started) + len(summary.duplicates)
        raise DispatchFailed(failed, total=total + len(summary.rejected) + len(summary.ignored))
    return summary
