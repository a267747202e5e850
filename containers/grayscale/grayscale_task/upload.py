"""Upload stage: a deterministic output key, so a retried task overwrites its own output instead
of leaving a second copy."""

from __future__ import annotations

from urllib.parse import quote

from grayscale_task.encode import EncodedImage
from pipeline_common.aws import client
from pipeline_common.contracts import S3Location


def output_key(input_key: str, prefix: str) -> str:
    """``gray/<input key>``: same name and extension, so the pair is obvious to a person."""
    return f"{prefix}{input_key}"


def upload(
    encoded: EncodedImage, *, bucket: str, key: str, source: S3Location, correlation_id: str | None
) -> S3Location:
    # S3 metadata must be ASCII: the source key (maybe unicode) travels URL-encoded.
    metadata = {"source-bucket": source.bucket, "source-key": quote(source.key, safe="/")}
    if source.version_id:
        metadata["source-version-id"] = source.version_id
    if correlation_id:
        metadata["correlation-id"] = correlation_id
    response = client("s3").put_object(
        Bucket=bucket,
        Key=key,
        Body=encoded.data,
        ContentType=encoded.content_type,
        Metadata=metadata,
    )
    return S3Location(bucket=bucket, key=key, version_id=response.get("VersionId"))
