"""Video dispatcher logic: one S3 ObjectCreated record -> one ingest execution (or a rejection).

The execution name and the video id are derived from bucket, key and version (or ETag), so a
re-delivered event finds ``ExecutionAlreadyExists`` and one object version is ingested once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline_common.contracts.common import S3Location, utc_now
from pipeline_common.contracts.video import VIDEO_EXTENSIONS, VideoFailed, fifo_ids, video_id_for


class DispatcherSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    state_machine_arn: str = Field(min_length=1)
    results_queue_url: str = Field(min_length=1)
    max_object_bytes: int = Field(default=2 * 1024**3, gt=0)


class VideoRejected(Exception):
    """The object is not something the pipeline can ingest; reported, never retried."""


@dataclass(frozen=True)
class VideoObject:
    bucket: str
    key: str
    size: int
    version_id: str | None
    etag: str | None

    @property
    def video_id(self) -> str:
        return video_id_for(self.bucket, self.key, self.version_id or self.etag)

    @property
    def execution_name(self) -> str:
        digest = hashlib.sha256(
            f"{self.bucket}/{self.key}/{self.version_id or self.etag or ''}".encode()
        ).hexdigest()
        return f"vid-{digest[:60]}"


@dataclass(frozen=True)
class Outcome:
    key: str
    status: str  # started | duplicate | rejected
    video_id: str | None = None
    detail: str | None = None


def s3_records(event: dict[str, Any]) -> list[dict[str, Any]]:
    """S3 notification records, also when the notification was delivered through SQS.
    ``s3:TestEvent`` (sent when a notification is configured) has no ``Records``: it yields none."""
    records: list[dict[str, Any]] = []
    for record in event.get("Records", []):
        if "s3" in record:
            records.append(record)
        elif "body" in record:
            records.extend(s3_records(json.loads(record["body"])))
    return records


def parse_object(record: dict[str, Any]) -> VideoObject:
    s3 = record["s3"]
    obj = s3["object"]
    return VideoObject(
        bucket=s3["bucket"]["name"],
        key=unquote_plus(obj["key"]),  # S3 notifications URL-encode keys
        size=int(obj.get("size", 0)),
        version_id=obj.get("versionId") or None,
        etag=obj.get("eTag") or None,
    )


def validate(video: VideoObject, max_bytes: int) -> None:
    extension = PurePosixPath(video.key).suffix.lower()
    if extension not in VIDEO_EXTENSIONS:
        raise VideoRejected(
            f"unsupported extension {extension or '(none)'!r}; expected one of "
            f"{', '.join(sorted(VIDEO_EXTENSIONS))}"
        )
    if video.size == 0:
        raise VideoRejected("the object is empty (0 bytes)")
    if video.size > max_bytes:
        raise VideoRejected(f"the object is {video.size} bytes; the limit is {max_bytes}")


class VideoDispatcher:
    def __init__(self, settings: DispatcherSettings, *, sfn: Any, sqs: Any) -> None:
        self._settings = settings
        self._sfn = sfn
        self._sqs = sqs

    def dispatch(self, record: dict[str, Any], correlation_id: str) -> Outcome:
        video = parse_object(record)
        try:
            validate(video, self._settings.max_object_bytes)
        except VideoRejected as exc:
            self._reject(video, str(exc), correlation_id)
            return Outcome(video.key, "rejected", video.video_id, str(exc))
        execution_input = {
            "video_id": video.video_id,
            "correlation_id": correlation_id,
            "source": {
                "bucket": video.bucket,
                "key": video.key,
                "version_id": video.version_id or "",
            },
        }
        try:
            self._sfn.start_execution(
                stateMachineArn=self._settings.state_machine_arn,
                name=video.execution_name,
                input=json.dumps(execution_input),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ExecutionAlreadyExists":
                return Outcome(video.key, "duplicate", video.video_id)
            raise
        return Outcome(video.key, "started", video.video_id)

    def _reject(self, video: VideoObject, reason: str, correlation_id: str) -> None:
        failure = VideoFailed(
            video_id=video.video_id,
            level="video",
            reason=reason,
            source=S3Location(bucket=video.bucket, key=video.key, version_id=video.version_id),
            failed_at=utc_now(),
            correlation_id=correlation_id,
        )
        group, dedup = fifo_ids(failure)
        self._sqs.send_message(
            QueueUrl=self._settings.results_queue_url,
            MessageBody=failure.model_dump_json(),
            MessageGroupId=group,
            MessageDeduplicationId=dedup,
        )
