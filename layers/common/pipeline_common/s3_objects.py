"""What every reader and signer of S3 objects shares: which errors mean "the object is not there",
and presigned links that never outlive the project's 300 s cap.

Two sets, because callers want two different answers:

- ``is_missing``: the object (or the asked-for version) does not exist. S3 names it by call: a
  GET answers ``NoSuchKey``/``NoSuchVersion``, a HEAD has no body and answers only ``404``;
  ``NotFound`` is botocore's name for the same on some paths (and the local cloud's).
- ``is_unreadable``: missing, or this role may not read it (``AccessDenied``/``403``: S3 answers
  403 rather than 404 to a caller without ``s3:ListBucket``), or its bucket is gone. For a task
  that reads one input and can only report it lost, all of these are the same failure; a caller
  that answers a client (404 vs 500) asks ``is_missing`` so that a denial stays an error.

Every link is signed here, so the cap has one definition: a presigned URL or POST is a bearer
credential for patient data, and lives at most ``MAX_LINK_SECONDS``.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from pydantic import Field

from pipeline_common import aws

MISSING_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})
UNREADABLE_CODES = MISSING_CODES | {"NoSuchBucket", "AccessDenied", "403"}

#: The longest any presigned URL or POST may live (the settings of every signer refuse more).
MAX_LINK_SECONDS = 300


def link_lifetime(*, minimum: int = 1) -> Any:
    """The settings field of a signer's link lifetime: ``MAX_LINK_SECONDS`` unless set lower; a
    longer setting fails the cold start instead of a request."""
    return Field(default=MAX_LINK_SECONDS, ge=minimum, le=MAX_LINK_SECONDS)


def is_missing(error: ClientError) -> bool:
    """The object or version does not exist (a 404, however this S3 call names it)."""
    return aws.error_code(error) in MISSING_CODES


def is_unreadable(error: ClientError) -> bool:
    """Missing, denied, or its bucket gone: the object cannot be read by this role."""
    return aws.error_code(error) in UNREADABLE_CODES


def _checked(expires_in: int) -> int:
    if not 0 < expires_in <= MAX_LINK_SECONDS:
        raise ValueError(f"a presigned link lives 1-{MAX_LINK_SECONDS} s, not {expires_in}")
    return expires_in


def presigned_get(
    bucket: str,
    key: str,
    *,
    expires_in: int,
    version_id: str | None = None,
    s3: Any | None = None,
) -> str:
    """A GET link to one object (one version, if given), signed by this role now."""
    params = {"Bucket": bucket, "Key": key}
    if version_id:
        params["VersionId"] = version_id
    client = s3 if s3 is not None else aws.client("s3")
    url: str = client.generate_presigned_url(
        "get_object", Params=params, ExpiresIn=_checked(expires_in)
    )
    return url


def presigned_post(
    bucket: str,
    key: str,
    *,
    expires_in: int,
    content_type: str,
    max_bytes: int,
) -> dict[str, Any]:
    """A browser upload form for exactly ``key``: the content type and 1..``max_bytes`` fixed."""
    post: dict[str, Any] = aws.client("s3").generate_presigned_post(
        Bucket=bucket,
        Key=key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
        ExpiresIn=_checked(expires_in),
    )
    return post
