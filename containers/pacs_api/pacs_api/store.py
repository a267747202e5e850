"""``PacsBucket``: listings, whole-object reads with a size cap, presigned URLs, and the one write
path (STOW-RS and the seed both store through ``put_instance``: never a silent overwrite)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pacs_api import layout
from pacs_api.errors import InstanceConflict, NotFound, ObjectTooLarge, StoreUnavailable
from pipeline_common import aws
from pipeline_common.aws import error_code
from pipeline_common.s3_objects import is_missing, presigned_get

_PRECONDITION_CODES = {"PreconditionFailed", "412", "ConditionalRequestConflict"}
SHA256_METADATA = "sha256"


@dataclass(frozen=True)
class StoredInstance:
    instance_id: str
    key: str
    size_bytes: int
    last_modified: datetime


@dataclass(frozen=True)
class StoredObject:
    """One instance found by a listing: its ids come from its key, the layout's source of truth."""

    study_id: str
    series_id: str
    instance_id: str
    size_bytes: int
    last_modified: datetime
    has_summary: bool


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
        with self._s3_errors(instance_id):
            response = self.s3.get_object(Bucket=self.bucket, Key=key)
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
        with self._s3_errors(instance_id):
            self.s3.head_object(Bucket=self.bucket, Key=key)
        return presigned_get(self.bucket, key, expires_in=expires_in, s3=self.s3)

    def instance_objects(
        self, study_id: str | None = None, series_id: str | None = None
    ) -> list[StoredObject]:
        """Every instance under the PACS, a study or a series (one paginated listing)."""
        if study_id is None:
            prefix = layout.STUDIES_PREFIX
        elif series_id is None:
            prefix = layout.study_prefix(study_id)
        else:
            prefix = layout.instances_prefix(study_id, series_id)
        instances: dict[tuple[str, str, str], dict[str, Any]] = {}
        summaries: set[tuple[str, str, str]] = set()
        for item in self._objects(prefix):
            parsed = layout.parse_key(item["Key"])
            if parsed is None:
                continue
            ids, suffix = parsed[:3], parsed[3]
            if suffix == layout.INSTANCE_SUFFIX:
                instances[ids] = item
            else:
                summaries.add(ids)
        return [
            StoredObject(
                study_id=ids[0],
                series_id=ids[1],
                instance_id=ids[2],
                size_bytes=int(item["Size"]),
                last_modified=item["LastModified"],
                has_summary=ids in summaries,
            )
            for ids, item in sorted(instances.items())
        ]

    def instance_object(
        self, study_id: str, series_id: str, instance_id: str
    ) -> StoredObject | None:
        """One instance found by its key (a HEAD, not a listing); None when it is not stored.
        Its summary is taken to exist: a missing one is rebuilt when read, as for a listing."""
        head = self._head(layout.instance_key(study_id, series_id, instance_id), instance_id)
        if head is None:
            return None
        return StoredObject(
            study_id=study_id,
            series_id=series_id,
            instance_id=instance_id,
            size_bytes=int(head["ContentLength"]),
            last_modified=head["LastModified"],
            has_summary=True,
        )

    def read_summary(
        self, study_id: str, series_id: str, instance_id: str
    ) -> dict[str, Any] | None:
        key = layout.summary_key(study_id, series_id, instance_id)
        try:
            with self._s3_errors(instance_id):
                body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except NotFound:
            return None
        try:
            summary = json.loads(body)
        except ValueError:
            return None  # a damaged summary is rebuilt from the instance itself
        return summary if isinstance(summary, dict) else None

    def write_summary(
        self, study_id: str, series_id: str, instance_id: str, summary: dict[str, Any]
    ) -> None:
        key = layout.summary_key(study_id, series_id, instance_id)
        body = json.dumps(summary, separators=(",", ":"), sort_keys=True).encode()
        self._put(key, body, "application/json", {})

    def put_instance(
        self,
        study_id: str,
        series_id: str,
        instance_id: str,
        data: bytes,
        *,
        summary: dict[str, Any] | None,
        source: str | None = None,
        check_first: bool = False,
    ) -> str:
        """Store one instance: ``"stored"``, or ``"identical"`` when the very same bytes are
        already there. A different object under the same ids raises ``InstanceConflict``; the
        write is conditional (If-None-Match), so two concurrent stores cannot both win.

        A STOW stores new instances: the conditional write goes first and the stored digest is
        read only when it is refused, one S3 request instead of a HEAD and a PUT. A caller that
        mostly re-stores what is there (the seed, run again) passes ``check_first`` to read the
        digest before sending the bytes."""
        key = layout.instance_key(study_id, series_id, instance_id)
        digest = hashlib.sha256(data).hexdigest()
        existing = self._stored_digest(key, instance_id) if check_first else None
        if existing is None:
            metadata = {SHA256_METADATA: digest}
            if source:
                metadata["source"] = source
            existing = self._put_new(key, instance_id, data, metadata)
        if existing is not None and existing != digest:
            raise InstanceConflict(
                f"instance {instance_id} is already stored with different content"
            )
        if summary is not None:
            self.write_summary(study_id, series_id, instance_id, summary)
        return "stored" if existing is None else "identical"

    def _put_new(
        self, key: str, instance_id: str, data: bytes, metadata: dict[str, str]
    ) -> str | None:
        """Write ``data`` at ``key`` unless an object is there (If-None-Match): None when
        written, else the digest of the object already there."""
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType="application/dicom",
                Metadata=metadata,
                IfNoneMatch="*",
            )
        except ClientError as exc:
            if error_code(exc) not in _PRECONDITION_CODES:
                raise self._translate(exc, instance_id) from exc
            return self._stored_digest(key, instance_id)
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc
        return None

    def _stored_digest(self, key: str, instance_id: str) -> str | None:
        """SHA-256 of the object at ``key`` (its metadata, else its bytes); None when absent."""
        head = self._head(key, instance_id)
        if head is None:
            return None
        recorded = head.get("Metadata", {}).get(SHA256_METADATA)
        if recorded:
            return str(recorded)
        # Put there by hand (no digest recorded): compare the bytes themselves.
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        try:
            return hashlib.sha256(body.read()).hexdigest()
        finally:
            body.close()

    def _head(self, key: str, instance_id: str) -> dict[str, Any] | None:
        """The object's HEAD answer; None when there is no object at ``key``."""
        try:
            with self._s3_errors(instance_id):
                head: dict[str, Any] = self.s3.head_object(Bucket=self.bucket, Key=key)
        except NotFound:
            return None
        return head

    def _put(self, key: str, body: bytes, content_type: str, metadata: dict[str, str]) -> None:
        try:
            self.s3.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, Metadata=metadata
            )
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc

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
            raise _unavailable(exc) from exc
        return sorted(name for name in names if name)

    def _objects(self, prefix: str) -> list[dict[str, Any]]:
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            return [item for page in pages for item in page.get("Contents", [])]
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc

    @contextmanager
    def _s3_errors(self, instance_id: str) -> Iterator[None]:
        """S3 errors of a call about one instance as the PACS's: a missing object is
        ``NotFound``, any other error ``StoreUnavailable``."""
        try:
            yield
        except ClientError as exc:
            raise self._translate(exc, instance_id) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc

    @staticmethod
    def _translate(exc: ClientError, instance_id: str) -> Exception:
        if is_missing(exc):
            return NotFound(f"instance {instance_id} not found")
        return StoreUnavailable(f"PACS store error: {error_code(exc) or type(exc).__name__}")


def _unavailable(exc: Exception) -> StoreUnavailable:
    return StoreUnavailable(f"PACS store unavailable: {type(exc).__name__}")
