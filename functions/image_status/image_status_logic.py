"""Where one uploaded image stands, read from S3 alone (no table to keep in step):

1. ``results/<key>.json`` in the output bucket (the grayscale task's ``ImageProcessingResult``,
   SUCCEEDED or FAILED, overwritten on retry): done or failed, with the per-stage timings;
2. else ``gray/<key>`` exists: done, timings unknown (a task that wrote no sidecar);
3. else the input exists: pending (inputs the dispatcher refused never get further: the console
   says so after a while);
4. else 404.

An image belongs to the user whose prefix it was uploaded under (``uploads/<sub>/``, see
UploadUrlFunction). Anyone else gets the same 404 as for a key that does not exist, before any
S3 call, so keys cannot be probed; admins may read any key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from botocore.exceptions import ClientError
from image_status_settings import ImageStatusSettings
from pydantic import Field, ValidationError

from pipeline_common import aws
from pipeline_common.contracts.common import Contract
from pipeline_common.contracts.image import ImageProcessingResult, ImageStatus
from pipeline_common.http import InvalidRequest, NotFound
from pipeline_common.identity import Caller
from pipeline_common.observability import logger
from pipeline_common.s3_objects import is_missing, presigned_get

UPLOAD_PREFIX = "uploads/"


class ImageStatusView(Contract):
    """The body of ``GET /images/{key+}``."""

    key: str
    status: Literal["pending", "done", "failed"]
    input_url: str
    output_url: str | None = None
    stage: str | None = None
    reason: str | None = None
    timings_ms: dict[str, float] = Field(default_factory=dict)
    width: int | None = None
    height: int | None = None
    format: str | None = None
    input_bytes: int | None = None
    output_bytes: int | None = None
    threads: int | None = None
    uploaded_at: datetime | None = None
    completed_at: datetime | None = None


def check_key(key: str) -> str:
    if not key or len(key.encode("utf-8")) > 1024:
        raise InvalidRequest("key must be 1-1024 bytes", field="key", code="invalid_key")
    if key.startswith("/") or any(part in ("", ".", "..") for part in key.split("/")):
        raise InvalidRequest(
            "key must not start with '/' or contain empty, '.' or '..' segments",
            field="key",
            code="invalid_key",
        )
    return key


def may_read(caller: Caller, key: str) -> bool:
    """Whether ``caller`` may see the image at ``key`` (a key already through ``check_key``, so
    no ``..`` segment can walk out of the prefix)."""
    return caller.is_admin or key.startswith(f"{UPLOAD_PREFIX}{caller.owner_id}/")


def _unknown(key: str) -> NotFound:
    return NotFound(f"no image {key!r} in the input bucket", field="key", code="unknown_image")


def describe_image(*, key: str, caller: Caller, settings: ImageStatusSettings) -> ImageStatusView:
    check_key(key)
    if not may_read(caller, key):
        raise _unknown(key)
    input_url = _presign(settings.image_input_bucket, key, settings)
    sidecar = _sidecar(key, settings)
    if sidecar is not None:
        return _from_result(key, sidecar, input_url, settings)

    output_key = f"{settings.output_prefix}{key}"
    if _head(settings.image_output_bucket, output_key) is not None:
        return ImageStatusView(
            key=key,
            status="done",
            input_url=input_url,
            output_url=_presign(settings.image_output_bucket, output_key, settings),
        )
    head = _head(settings.image_input_bucket, key)
    if head is None:
        raise _unknown(key)
    return ImageStatusView(
        key=key,
        status="pending",
        input_url=input_url,
        input_bytes=int(head.get("ContentLength", 0)),
        uploaded_at=head.get("LastModified"),
    )


def _from_result(
    key: str, result: ImageProcessingResult, input_url: str, settings: ImageStatusSettings
) -> ImageStatusView:
    output_url = None
    # Only the pipeline's own output bucket is signed, whatever the sidecar names.
    if result.output is not None and result.output.bucket == settings.image_output_bucket:
        output_url = _presign(result.output.bucket, result.output.key, settings)
    return ImageStatusView(
        key=key,
        status="done" if result.status == ImageStatus.SUCCEEDED else "failed",
        input_url=input_url,
        output_url=output_url,
        stage=result.stage,
        reason=result.reason,
        timings_ms=result.timings_ms,
        width=result.width,
        height=result.height,
        format=result.format,
        input_bytes=result.input_bytes,
        output_bytes=result.output_bytes,
        threads=result.threads,
        completed_at=result.completed_at,
    )


def _sidecar(key: str, settings: ImageStatusSettings) -> ImageProcessingResult | None:
    sidecar_key = f"{settings.result_sidecar_prefix}{key}.json"
    try:
        body = aws.client("s3").get_object(Bucket=settings.image_output_bucket, Key=sidecar_key)
    except ClientError as exc:
        if is_missing(exc):
            return None
        raise
    try:
        return ImageProcessingResult.model_validate_json(body["Body"].read())
    except ValidationError:
        # The output and input still answer the question; a broken sidecar is a task bug.
        logger.exception("result sidecar is not an ImageProcessingResult", extra={"key": key})
        return None


def _head(bucket: str, key: str) -> dict[str, Any] | None:
    try:
        head: dict[str, Any] = aws.client("s3").head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if is_missing(exc):
            return None
        raise
    return head


def _presign(bucket: str, key: str, settings: ImageStatusSettings) -> str:
    return presigned_get(bucket, key, expires_in=settings.presign_expiry_seconds)
