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

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord
from dispatcher_settings import DispatcherSettings

from pipeline_common import s3_dispatch
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
from pipeline_common.s3_dispatch import (
    CreatedObject,
    Failures,
    Notification,
    created_object,
    is_s3_test_event,
)

EXECUTION_NAME_PREFIX = "img-"
BATCH_NAME_PREFIX = "imgb-"
Outcome = Literal["started", "duplicate", "rejected", "ignored"]
# Read here by the rules' tests; owned by ``pipeline_common.s3_dispatch``.
__all__ = ["CreatedObject", "created_object", "dispatch_event", "is_s3_test_event"]


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


def execution_name(bucket: str, key: str, version_id: str | None, etag: str | None) -> str:
    """Deterministic, valid for Step Functions (<= 80 chars of [0-9a-z-]) whatever the key holds."""
    return s3_dispatch.object_id(EXECUTION_NAME_PREFIX, bucket, key, version_id, etag)


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
    s3_dispatch.report_rejection(
        queue_url, result, attributes={"kind": result.kind, "status": result.status.value}
    )


def as_input(obj: CreatedObject, name: str) -> ImageProcessingInput:
    return ImageProcessingInput(
        bucket=obj.bucket,
        key=obj.key,
        version_id=obj.version_id,
        etag=obj.etag,
        size=obj.size,
        correlation_id=name,
    )


def start_processing(obj: CreatedObject, name: str, state_machine_arn: str) -> bool:
    """Start the execution; False when this object version already has one."""
    return s3_dispatch.start_execution(
        state_machine_arn, name, as_input(obj, name).model_dump_json()
    )


def batch_name(object_ids: list[str]) -> str:
    """Deterministic for a set of objects: the same batch delivered again starts nothing new."""
    return s3_dispatch.batch_name(BATCH_NAME_PREFIX, object_ids)


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
    started = s3_dispatch.start_execution(
        settings.state_machine_arn, name, execution_input.model_dump_json()
    )
    return name, started


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
    failures = Failures()

    def accept(note: Notification, record: S3EventRecord) -> None:
        item = _accept_record(note.message_id, record, settings, summary)
        if item is not None:
            accepted.append(item)

    s3_dispatch.for_each_record(
        s3_dispatch.notifications(event),
        accept,
        failures,
        on_test_event=lambda: summary.ignored.append("s3:TestEvent"),
    )
    if settings.dispatch_mode == "batched" and accepted:
        not_started = _start_batch(accepted, settings, summary)
    else:
        not_started = _start_each(accepted, settings, summary)
    for item in not_started:
        failures.add(item.label, item.message_id)

    handled = summary.started + summary.duplicates + summary.rejected + summary.ignored
    summary.failed_messages = failures.settle(total=len(failures.labels) + len(handled))
    return summary
