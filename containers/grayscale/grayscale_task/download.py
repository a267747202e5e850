"""Download stage: the whole object into memory, refusing what is gone, empty or too large."""

from __future__ import annotations

from botocore.exceptions import ClientError

from grayscale_task.errors import ImageRejected
from pipeline_common.aws import client, error_code
from pipeline_common.contracts import S3Location
from pipeline_common.s3_objects import is_missing


def download(location: S3Location, *, max_bytes: int) -> bytes:
    params = {"Bucket": location.bucket, "Key": location.key}
    if location.version_id:
        params["VersionId"] = location.version_id
    try:
        response = client("s3").get_object(**params)
    except ClientError as exc:
        if is_missing(exc):
            raise ImageRejected(
                "download", f"input object no longer exists ({error_code(exc)})"
            ) from exc
        raise
    size = int(response.get("ContentLength", 0))
    # Checked before reading the body so an oversized object is never held in memory.
    if size > max_bytes:
        response["Body"].close()
        raise ImageRejected("download", f"input is {size} bytes, more than the {max_bytes} allowed")
    data = response["Body"].read()
    if not data:
        raise ImageRejected("download", "input object is empty (0 bytes)")
    return data
