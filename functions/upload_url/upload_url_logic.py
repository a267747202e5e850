"""Presigned S3 POST uploads for the web console: one fresh key per upload, the extension checked
per kind, the size capped by the POST policy itself (S3 refuses a larger body).

Every key is ``uploads/<sub>/<uuid>-<safe name>``: under the caller's own prefix (the token's
``sub``, never a body field), which is what the image and video status routes check ownership by.
The POST policy pins the exact key, so the form cannot be replayed into another user's prefix.
"""

from __future__ import annotations

import re
import uuid
from pathlib import PurePosixPath
from typing import Literal

from pydantic import Field
from upload_url_settings import UploadUrlSettings

from pipeline_common.contracts.common import Contract
from pipeline_common.contracts.image import SUPPORTED_EXTENSIONS
from pipeline_common.contracts.video import VIDEO_EXTENSIONS
from pipeline_common.http import InvalidRequest
from pipeline_common.s3_objects import presigned_post

UploadKind = Literal["image", "video"]
UPLOAD_PREFIX = "uploads/"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_NAME = 100
_CONTENT_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".avi": "video/x-msvideo",
    ".mkv": "video/x-matroska",
}
_ARTICLE = {"image": "an", "video": "a"}
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "image": tuple(sorted(SUPPORTED_EXTENSIONS)),
    "video": tuple(sorted(VIDEO_EXTENSIONS)),
}


class UploadRequest(Contract):
    """Body of ``POST /uploads``."""

    kind: UploadKind
    filename: str = Field(min_length=1, max_length=255)
    content_type: str | None = Field(
        default=None, max_length=100, pattern=r"^[A-Za-z0-9.+-]+/[A-Za-z0-9.+-]+$"
    )


class UploadTicket(Contract):
    """What the browser needs to POST the file straight to S3 (multipart form: ``fields`` first,
    then ``file``), and where to ask about it afterwards."""

    kind: UploadKind
    bucket: str
    key: str
    url: str
    method: Literal["POST"] = "POST"
    fields: dict[str, str]
    content_type: str
    max_bytes: int
    expires_in: int
    status_path: str


def safe_filename(filename: str) -> str:
    """The last path segment, reduced to ``[A-Za-z0-9._-]`` (no leading dots), at most 100
    characters with its extension kept: the key stays readable and never walks a path."""
    base = re.split(r"[\\/]", filename.strip())[-1]
    cleaned = _UNSAFE.sub("_", base).lstrip("._")
    suffix = PurePosixPath(cleaned).suffix.lower()
    stem = cleaned[: len(cleaned) - len(suffix)] if suffix else cleaned
    stem = stem[: _MAX_NAME - len(suffix)] or "upload"
    return f"{stem}{suffix}"


def owner_prefix(owner_id: str) -> str:
    """Where ``owner_id``'s uploads go; the status routes read only this prefix."""
    return f"{UPLOAD_PREFIX}{owner_id}/"


def create_upload(
    *,
    request: UploadRequest,
    owner_id: str,
    settings: UploadUrlSettings,
    upload_id: str | None = None,
) -> UploadTicket:
    name = safe_filename(request.filename)
    extension = PurePosixPath(name).suffix.lower()
    allowed = EXTENSIONS[request.kind]
    if extension not in allowed:
        raise InvalidRequest(
            f"{_ARTICLE[request.kind]} {request.kind} must be one of {', '.join(allowed)}; got "
            f"{extension or 'no extension'} ({request.filename!r})",
            field="filename",
            code="unsupported_extension",
        )
    content_type = request.content_type or _CONTENT_TYPES[extension]
    if not content_type.startswith(f"{request.kind}/"):
        raise InvalidRequest(
            f"content_type {content_type!r} is not {_ARTICLE[request.kind]} {request.kind} type",
            field="content_type",
            code="unsupported_content_type",
        )
    if request.kind == "image":
        bucket, max_bytes = settings.image_input_bucket, settings.max_image_bytes
    else:
        bucket, max_bytes = settings.video_input_bucket, settings.max_video_bytes
    key = f"{owner_prefix(owner_id)}{upload_id or uuid.uuid4().hex}-{name}"
    post = presigned_post(
        bucket,
        key,
        expires_in=settings.upload_expiry_seconds,
        content_type=content_type,
        max_bytes=max_bytes,
    )
    status_path = f"/images/{key}" if request.kind == "image" else f"/videos?key={key}"
    return UploadTicket(
        kind=request.kind,
        bucket=bucket,
        key=key,
        url=post["url"],
        fields={str(k): str(v) for k, v in post["fields"].items()},
        content_type=content_type,
        max_bytes=max_bytes,
        expires_in=settings.upload_expiry_seconds,
        status_path=status_path,
    )
