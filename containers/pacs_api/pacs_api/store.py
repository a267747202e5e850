"""Read access to ``PacsBucket``: listings, whole-object reads with a size cap, presigned URLs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pacs_api import layout
from pacs_api.errors import NotFound, ObjectTooLarge, StoreUnavailable
from pipeline_common import aws

_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}


@dataclass(frozen=True)
class StoredInstance:
    instance_id: str
    key: str
    size_bytes: int
    last_modified: datetime


class PacsStore:
    def __init__(self, bucket: str, s3: Any | None = None) -> None:
        self.bucket = bucket
        self._s3 = s3

    @property
    def s3(self) -> Any:
        return self._s3 if self._s3 is not None else aws.client("s3")

    def list_studies(self) -> list[str]:
        return self._child_folders(layout.STUDIES_PREFIX)

    def list_series(self, study_id: str) -> list[str]:
        series = self._child_folders(layout.study_prefix(study_id) + "series/")
        if not series:
            raise NotFound(f"study {study_id} not found")
        return series

    def list_instances(self, study_id: str, series_id: str) -> list[StoredInstance]:
        prefix = layout.instances_prefix(study_id, series_id)
        instances = []
        for item in self._objects(prefix):
            name = item["Key"][len(prefix) :]
            # Only direct children named <id>.dcm are instances; anything else is not ours.
            if "/" in name or not name.endswith(layout.INSTANCE_SUFFIX):
                continue
            instances.append(
                StoredInstance(
                    instance_id=name[: -len(layout.INSTANCE_SUFFIX)],
                    key=item["Key"],
                    size_bytes=int(item["Size"]),
                    last_modified=item["LastModified"],
                )
            )
        if not instances:
            raise NotFound(f"series {series_id} of study {study_id} not found")
        return sorted(instances, key=lambda i: i.instance_id)

    def read_instance(
        self, study_id: str, series_id: str, instance_id: str, *, max_bytes: int
    ) -> bytes:
        key = layout.instance_key(study_id, series_id, instance_id)
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            raise self._translate(exc, instance_id) from exc
        except BotoCoreError as exc:
            raise StoreUnavailable(f"PACS store unavailable: {type(exc).__name__}") from exc
        body = response["Body"]
        try:
            if int(response["ContentLength"]) > max_bytes:
                raise ObjectTooLarge(
                    f"instance {instance_id} is {response['ContentLength']} bytes; "
                    f"the limit is {max_bytes}"
                )
            return body.read()
        finally:
            body.close()

    def presign_instance(
        self, study_id: str, series_id: str, instance_id: str, *, expires_in: int
    ) -> str:
        key = layout.instance_key(study_id, series_id, instance_id)
        # A URL for an object that does not exist would only fail later, at the client: 404 now.
        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            raise self._translate(exc, instance_id) from exc
        except BotoCoreError as exc:
            raise StoreUnavailable(f"PACS store unavailable: {type(exc).__name__}") from exc
        return self.s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
        )

    def _child_folders(self, prefix: str) -> list[str]:
        names: list[str] = []
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, Delimiter="/"
            )
            for page in pages:
                for common in page.get("CommonPrefixes", []):
                    names.append(common["Prefix"][len(prefix) :].rstrip("/"))
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailable(f"PACS store unavailable: {type(exc).__name__}") from exc
        return sorted(name for name in names if name)

    def _objects(self, prefix: str) -> list[dict[str, Any]]:
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            return [item for page in pages for item in page.get("Contents", [])]
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailable(f"PACS store unavailable: {type(exc).__name__}") from exc

    @staticmethod
    def _translate(exc: ClientError, instance_id: str) -> Exception:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _MISSING_CODES:
            return NotFound(f"instance {instance_id} not found")
        return StoreUnavailable(f"PACS store error: {code or type(exc).__name__}")
