"""One S3 ObjectCreated record -> one VideoIngestStateMachine execution, or a rejection.

The execution name is the object id of the object version (``pipeline_common.s3_dispatch``): a
redelivered event finds ``ExecutionAlreadyExists`` and one version is ingested once. That id is
also the correlation id of every message about the video; the video id is derived from the same
bucket, key and version (or ETag).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import PurePosixPath

from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord
from video_dispatcher_settings import DispatcherSettings

from pipeline_common import s3_dispatch
from pipeline_common.contracts.common import utc_now
from pipeline_common.contracts.video import VIDEO_EXTENSIONS, VideoFailed, fifo_ids, video_id_for
from pipeline_common.s3_dispatch import CreatedObject

EXECUTION_NAME_PREFIX = "vid-"


@dataclass(frozen=True)
class Outcome:
    key: str
    status: str  # started | duplicate | rejected
    video_id: str | None = None
    detail: str | None = None


def video_id(video: CreatedObject) -> str:
    return video_id_for(video.bucket, video.key, video.version_id or video.etag)


def execution_name(video: CreatedObject) -> str:
    """The object id: execution name and correlation id, the same on every redelivery."""
    return s3_dispatch.object_id(
        EXECUTION_NAME_PREFIX, video.bucket, video.key, video.version_id, video.etag
    )


def rejection_reason(video: CreatedObject, max_bytes: int) -> str | None:
    """Why this object cannot be ingested, or None when it can."""
    extension = PurePosixPath(video.key).suffix.lower()
    if extension not in VIDEO_EXTENSIONS:
        return (
            f"unsupported extension {extension or '(none)'!r}; expected one of "
            f"{', '.join(sorted(VIDEO_EXTENSIONS))}"
        )
    if video.size == 0:
        return "the object is empty (0 bytes)"
    if video.size > max_bytes:
        return f"the object is {video.size} bytes; the limit is {max_bytes}"
    return None


def report_rejection(video: CreatedObject, reason: str, settings: DispatcherSettings) -> None:
    failure = VideoFailed(
        video_id=video_id(video),
        level="video",
        reason=reason,
        source=video.location,
        failed_at=utc_now(),
        correlation_id=execution_name(video),
    )
    s3_dispatch.report_rejection(settings.results_queue_url, failure, fifo_ids=fifo_ids(failure))


def dispatch(record: S3EventRecord, settings: DispatcherSettings) -> Outcome:
    """Start the ingest of the record's object, or report why it is rejected."""
    video = s3_dispatch.created_object(record)
    reason = rejection_reason(video, settings.max_object_bytes)
    if reason is not None:
        report_rejection(video, reason, settings)
        return Outcome(video.key, "rejected", video_id(video), reason)
    name = execution_name(video)
    execution_input = {
        "video_id": video_id(video),
        "correlation_id": name,
        "source": {
            "bucket": video.bucket,
            "key": video.key,
            "version_id": video.version_id or "",
        },
    }
    started = s3_dispatch.start_execution(
        settings.state_machine_arn, name, json.dumps(execution_input)
    )
    return Outcome(video.key, "started" if started else "duplicate", video_id(video))
