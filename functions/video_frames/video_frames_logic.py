"""The video pipeline's outputs as the console reads them, straight from ``VideoFramesBucket``:
``frames/<video_id>/<frame:06d>.json`` (a ``FrameResult``) next to its annotated ``.jpg``, and
``frames/<video_id>/summary.json`` (a ``VideoSummary``) once the service writes one.

Frames are paged by index (``after``), in order, so a console polling with the last index it saw
gets each frame exactly once.

Ownership: a video belongs to the user whose prefix it was uploaded under
(``uploads/<sub>/`` in VideoInputBucket). The video id is a one-way hash of bucket, key and
version (``video_id_for``, as the dispatcher derives it), and nothing in the frames bucket names
the upload, so "is this video mine?" is answered the other way round: list the caller's own
uploads (every version, at most ``MAX_UPLOADS_SCANNED``), derive their ids, look the id up. A video
that is not the caller's is the same 404 as one that does not exist; admins see every video.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import Field, ValidationError
from video_frames_settings import VideoFramesSettings

from pipeline_common import aws
from pipeline_common.contracts.common import Contract
from pipeline_common.contracts.video import (
    VIDEO_ID_PATTERN,
    FrameResult,
    VideoSummary,
    frame_output_keys,
    video_id_for,
)
from pipeline_common.http import InvalidRequest, NotFound
from pipeline_common.identity import Caller
from pipeline_common.observability import logger
from pipeline_common.s3_objects import is_missing, presigned_get

FRAMES_PREFIX = "frames/"
SUMMARY_NAME = "summary.json"
_FRAME_JSON = re.compile(r"^(\d{6,})\.json$")
UPLOAD_PREFIX = "uploads/"


class FrameView(Contract):
    frame: FrameResult
    annotated_url: str


class VideoFramesPage(Contract):
    """The body of ``GET /videos/{video_id}/frames``."""

    video_id: str
    frames: list[FrameView]
    # Pass as ``after`` to get the frames that follow; the same value again when none came.
    next_after: int
    more: bool = Field(description="true when the page was cut at the limit")
    summary: VideoSummary | None = None


class VideoRef(Contract):
    video_id: str
    key: str | None = None
    version_id: str | None = None


class VideoList(Contract):
    """The body of ``GET /videos`` (known videos) or ``GET /videos?key=`` (one upload's id)."""

    videos: list[VideoRef]


def check_video_id(video_id: str) -> str:
    if not re.fullmatch(VIDEO_ID_PATTERN, video_id):
        raise InvalidRequest(
            "video_id must be 1-64 letters, digits, '_' or '-'",
            field="video_id",
            code="invalid_video_id",
        )
    return video_id


def parse_after(raw: str | None) -> int:
    if raw in (None, ""):
        return -1
    try:
        value = int(raw)
    except ValueError as exc:
        raise InvalidRequest("after must be an integer", field="after") from exc
    if value < -1:
        raise InvalidRequest("after must be -1 or more", field="after")
    return value


def list_frames(
    *,
    video_id: str,
    after: int,
    caller: Caller,
    settings: VideoFramesSettings,
    limit: int | None = None,
) -> VideoFramesPage:
    check_video_id(video_id)
    if not (caller.is_admin or _is_own_video(caller, video_id, settings)):
        raise NotFound(f"no video {video_id}", field="video_id", code="unknown_video")
    limit = min(limit or settings.max_frames_per_page, settings.max_frames_per_page)
    prefix = f"{FRAMES_PREFIX}{video_id}/"
    s3 = aws.client("s3")
    params: dict[str, Any] = {"Bucket": settings.video_frames_bucket, "Prefix": prefix}
    if after >= 0:
        # "000007.jpg" < "000007.json" < "000008.jpg": both files of frame `after` are skipped.
        params["StartAfter"] = frame_output_keys(video_id, after)[1]
    indices: list[int] = []
    has_summary = False
    more = False
    for item in _listed(s3, params):
        name = item["Key"][len(prefix) :]
        match = _FRAME_JSON.match(name)
        if match:
            if len(indices) == limit:
                more = True  # the rest is for the next page; no need to list it now
                break
            indices.append(int(match.group(1)))
        elif name == SUMMARY_NAME:
            has_summary = True
    frames = [view for view in (_frame(video_id, index, settings) for index in indices) if view]
    return VideoFramesPage(
        video_id=video_id,
        frames=frames,
        next_after=indices[-1] if indices else after,
        more=more,
        # Only with the last frame: a console that has the summary has every frame too.
        summary=_summary(video_id, settings) if has_summary and not more else None,
    )


def _listed(s3: Any, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for page in s3.get_paginator("list_objects_v2").paginate(**params):
        yield from page.get("Contents", [])


def list_videos(*, key: str | None, caller: Caller, settings: VideoFramesSettings) -> VideoList:
    if key is not None:
        return VideoList(videos=[_video_of_upload(key, caller, settings)])
    if caller.is_admin:
        return _every_processed_video(settings)
    return _own_processed_videos(caller, settings)


def _every_processed_video(settings: VideoFramesSettings) -> VideoList:
    """Every video with outputs (ids only: the frames bucket does not name the uploads)."""
    listed = aws.client("s3").list_objects_v2(
        Bucket=settings.video_frames_bucket,
        Prefix=FRAMES_PREFIX,
        Delimiter="/",
        MaxKeys=settings.max_videos_listed,
    )
    ids = [p["Prefix"][len(FRAMES_PREFIX) :].rstrip("/") for p in listed.get("CommonPrefixes", [])]
    valid = [v for v in ids if re.fullmatch(VIDEO_ID_PATTERN, v)]
    return VideoList(videos=[VideoRef(video_id=v) for v in valid])


@dataclass(frozen=True)
class _Upload:
    ref: VideoRef
    uploaded_at: datetime

    @property
    def video_id(self) -> str:
        return self.ref.video_id


def _own_processed_videos(caller: Caller, settings: VideoFramesSettings) -> VideoList:
    """The caller's newest ``MAX_VIDEOS_LISTED`` uploads that have outputs, newest first."""
    newest = sorted(_uploads_of(caller, settings), key=lambda u: u.uploaded_at, reverse=True)
    s3 = aws.client("s3")
    videos = [
        upload.ref
        for upload in newest[: settings.max_videos_listed]
        if s3.list_objects_v2(
            Bucket=settings.video_frames_bucket,
            Prefix=f"{FRAMES_PREFIX}{upload.video_id}/",
            MaxKeys=1,
        ).get("KeyCount", 0)
    ]
    return VideoList(videos=videos)


def _is_own_video(caller: Caller, video_id: str, settings: VideoFramesSettings) -> bool:
    return any(upload.video_id == video_id for upload in _uploads_of(caller, settings))


def _uploads_of(caller: Caller, settings: VideoFramesSettings) -> list[_Upload]:
    """Every version of every upload under the caller's prefix, with the id the dispatcher gave
    it (at most ``MAX_UPLOADS_SCANNED``: older ones are not found)."""
    bucket = settings.video_input_bucket
    paginator = aws.client("s3").get_paginator("list_object_versions")
    uploads: list[_Upload] = []
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{UPLOAD_PREFIX}{caller.owner_id}/"):
        for version in page.get("Versions", []):
            ref = _ref(bucket, version["Key"], version.get("VersionId"), version.get("ETag"))
            uploads.append(_Upload(ref=ref, uploaded_at=version["LastModified"]))
            if len(uploads) >= settings.max_uploads_scanned:
                return uploads
    return uploads


def _ref(bucket: str, key: str, version: str | None, etag: str | None) -> VideoRef:
    """The dispatcher's id for one object version: its version id, or (an object written before
    versioning was enabled, version "null") its ETag."""
    if version == "null":
        version = None
    identity = version or str(etag or "").strip('"')
    return VideoRef(video_id=video_id_for(bucket, key, identity), key=key, version_id=version)


def _video_of_upload(key: str, caller: Caller, settings: VideoFramesSettings) -> VideoRef:
    """The id the dispatcher gives this object: the same function of bucket, key and version."""
    if not key or len(key) > 1024:
        raise InvalidRequest("key must be 1-1024 characters", field="key", code="invalid_key")
    if key.startswith("/") or any(part in ("", ".", "..") for part in key.split("/")):
        raise InvalidRequest(
            "key must not start with '/' or contain empty, '.' or '..' segments",
            field="key",
            code="invalid_key",
        )
    missing = NotFound(f"no video {key!r} in the input bucket", field="key")
    if not caller.is_admin and not key.startswith(f"{UPLOAD_PREFIX}{caller.owner_id}/"):
        raise missing  # the same answer as for a key that does not exist: no probing
    try:
        head = aws.client("s3").head_object(Bucket=settings.video_input_bucket, Key=key)
    except ClientError as exc:
        if is_missing(exc):
            raise missing from exc
        raise
    return _ref(settings.video_input_bucket, key, head.get("VersionId"), head.get("ETag"))


def _frame(video_id: str, index: int, settings: VideoFramesSettings) -> FrameView | None:
    jpg_key, json_key = frame_output_keys(video_id, index)
    s3 = aws.client("s3")
    try:
        body = s3.get_object(Bucket=settings.video_frames_bucket, Key=json_key)["Body"].read()
        frame = FrameResult.model_validate_json(body)
    except ValidationError:
        logger.exception("frame JSON is not a FrameResult", extra={"key": json_key})
        return None
    url = presigned_get(
        settings.video_frames_bucket, jpg_key, expires_in=settings.presign_expiry_seconds, s3=s3
    )
    return FrameView(frame=frame, annotated_url=url)


def _summary(video_id: str, settings: VideoFramesSettings) -> VideoSummary | None:
    key = f"{FRAMES_PREFIX}{video_id}/{SUMMARY_NAME}"
    try:
        body = aws.client("s3").get_object(Bucket=settings.video_frames_bucket, Key=key)
        return VideoSummary.model_validate_json(body["Body"].read())
    except ValidationError:
        logger.exception("summary is not a VideoSummary", extra={"key": key})
        return None
