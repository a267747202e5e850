"""Shard leases, checkpoints, failed-record attempts and worker heartbeats in DynamoDB
(``CHECKPOINT_TABLE``).

Key schema: partition key ``shard_key`` (S); no sort key. Two kinds of item:

- a **lease** per shard, ``"<stream name>:<shard id>"``: ``sequence_number`` (last fully
  processed record), ``owner`` and ``lease_expires_at`` (epoch seconds) so that several service
  tasks (autoscaling) never read one shard together, ``shard_end`` once a closed shard has been
  drained, and ``failed_sequence``/``failed_attempts``: how often processing of the record after
  the checkpoint failed or was started without finishing. Kept here rather than in memory so the
  count survives a restart: a record that crashes the process is still given up after N tries.
- the **worker registry** ``"<stream name>:__workers__"``: one attribute ``worker:<owner>`` per
  service task, holding the epoch second its heartbeat expires. Live workers are counted from it
  to compute each task's fair share of the shards (see ``service.py``).

Only ``GetItem`` and ``UpdateItem`` are used (no scan), so the task role needs nothing more.

A checkpoint is written only after a record's result message was sent, and only while this
worker still owns the lease: at-least-once, with duplicates bounded by the records in flight when a
worker dies. A replay is harmless: the FIFO message's deduplication id is ``<video>:<frame>`` and
the S3 keys are deterministic, so a frame sent twice is stored once and delivered once.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from pipeline_common.tables.attributes import is_refusal
from yolo_stream.errors import LeaseLostError

WORKER_PREFIX = "worker:"


@dataclass(frozen=True)
class Lease:
    shard_key: str
    sequence_number: str | None
    shard_end: bool


@dataclass(frozen=True)
class LeaseView:
    """What the balancer sees of a shard's lease item (read without taking it)."""

    shard_key: str
    owner: str | None
    expires_at: float
    shard_end: bool

    def held(self, now: float) -> bool:
        return self.owner is not None and self.expires_at >= now


def shard_key(stream_name: str, shard_id: str) -> str:
    return f"{stream_name}:{shard_id}"


def registry_key(stream_name: str) -> str:
    return f"{stream_name}:__workers__"  # shard ids are "shardId-...": no collision


class CheckpointStore:
    def __init__(self, dynamodb: Any, table: str, owner: str, lease_seconds: float) -> None:
        self._db = dynamodb
        self._table = table
        self.owner = owner
        self.lease_seconds = lease_seconds

    def acquire(self, key: str) -> Lease | None:
        """Take the shard's lease if free, expired or ours; None if another worker holds it."""
        now = time.time()
        try:
            item = self._db.update_item(
                TableName=self._table,
                Key={"shard_key": {"S": key}},
                UpdateExpression="SET #o = :me, lease_expires_at = :exp",
                ConditionExpression=(
                    "attribute_not_exists(#o) OR #o = :me OR lease_expires_at < :now"
                ),
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={
                    ":me": {"S": self.owner},
                    ":exp": {"N": str(now + self.lease_seconds)},
                    ":now": {"N": str(now)},
                },
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as exc:
            if is_refusal(exc):
                return None
            raise
        return Lease(
            shard_key=key,
            sequence_number=item.get("sequence_number", {}).get("S"),
            shard_end=item.get("shard_end", {}).get("BOOL", False),
        )

    def view(self, key: str) -> LeaseView:
        item = self._db.get_item(
            TableName=self._table, Key={"shard_key": {"S": key}}, ConsistentRead=True
        ).get("Item", {})
        return LeaseView(
            shard_key=key,
            owner=item.get("owner", {}).get("S"),
            expires_at=float(item.get("lease_expires_at", {}).get("N", "0")),
            shard_end=item.get("shard_end", {}).get("BOOL", False),
        )

    def checkpoint(self, key: str, sequence_number: str, *, shard_end: bool = False) -> None:
        """Record progress and renew the lease; ``LeaseLostError`` if another worker took it."""
        self._update(
            key,
            "SET sequence_number = :seq, lease_expires_at = :exp, shard_end = :end,"
            " updated_at = :now",
            {":seq": {"S": sequence_number}, ":end": {"BOOL": shard_end}},
        )

    def mark_shard_end(self, key: str) -> None:
        self._update(
            key,
            "SET shard_end = :end, lease_expires_at = :exp, updated_at = :now",
            {":end": {"BOOL": True}},
        )

    def renew(self, key: str) -> None:
        self._update(key, "SET lease_expires_at = :exp, updated_at = :now", {})

    def add_attempt(self, key: str, sequence_number: str) -> int:
        """Count one failed (or started and unfinished) attempt at the record; returns the count.

        ``failed_attempts`` belongs to ``failed_sequence``: a new record starts again at 1."""
        try:
            return self._update(
                key,
                "SET failed_attempts = failed_attempts + :one, lease_expires_at = :exp,"
                " updated_at = :now",
                {":one": {"N": "1"}, ":seq": {"S": sequence_number}},
                condition="failed_sequence = :seq",
            )
        except LeaseLostError:
            pass  # either the lease or the record differs: the plain update below tells which
        return self._update(
            key,
            "SET failed_sequence = :seq, failed_attempts = :one, lease_expires_at = :exp,"
            " updated_at = :now",
            {":one": {"N": "1"}, ":seq": {"S": sequence_number}},
        )

    def remove_attempt(self, key: str, sequence_number: str) -> None:
        """Take back an attempt counted ahead that failed for a reason not the record's own
        (an outage): an outage must not use up a record's attempts."""
        # LeaseLostError: nothing counted for it, or the lease is gone (the next write says so)
        with contextlib.suppress(LeaseLostError):
            self._update(
                key,
                "SET failed_attempts = failed_attempts - :one, lease_expires_at = :exp,"
                " updated_at = :now",
                {":one": {"N": "1"}, ":zero": {"N": "0"}, ":seq": {"S": sequence_number}},
                condition="failed_sequence = :seq AND failed_attempts > :zero",
            )

    def release(self, key: str) -> None:
        """Give the shard back (shutdown, rebalance) so another worker resumes it at once."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key={"shard_key": {"S": key}},
                UpdateExpression="REMOVE #o, lease_expires_at",
                ConditionExpression="#o = :me",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":me": {"S": self.owner}},
            )
        except ClientError as exc:
            if not is_refusal(exc):
                raise

    # -- worker registry ---------------------------------------------------------------------

    def heartbeat(self, stream_name: str) -> None:
        now = time.time()
        self._db.update_item(
            TableName=self._table,
            Key={"shard_key": {"S": registry_key(stream_name)}},
            UpdateExpression="SET #w = :exp",
            ExpressionAttributeNames={"#w": WORKER_PREFIX + self.owner},
            ExpressionAttributeValues={":exp": {"N": str(now + self.lease_seconds)}},
        )

    def live_workers(self, stream_name: str) -> set[str]:
        """Workers whose heartbeat has not expired; entries dead for a lease period are removed."""
        now = time.time()
        item = self._db.get_item(
            TableName=self._table,
            Key={"shard_key": {"S": registry_key(stream_name)}},
            ConsistentRead=True,
        ).get("Item", {})
        live = set()
        for name, value in item.items():
            if not name.startswith(WORKER_PREFIX) or "N" not in value:
                continue
            expires = float(value["N"])
            if expires >= now:
                live.add(name.removeprefix(WORKER_PREFIX))
            elif expires < now - self.lease_seconds:
                self._forget_worker(stream_name, name, value)
        return live

    def unregister(self, stream_name: str) -> None:
        """Leave the registry at shutdown so the others count one worker less at once."""
        self._db.update_item(
            TableName=self._table,
            Key={"shard_key": {"S": registry_key(stream_name)}},
            UpdateExpression="REMOVE #w",
            ExpressionAttributeNames={"#w": WORKER_PREFIX + self.owner},
        )

    def _forget_worker(self, stream_name: str, name: str, value: dict[str, str]) -> None:
        try:
            self._db.update_item(
                TableName=self._table,
                Key={"shard_key": {"S": registry_key(stream_name)}},
                UpdateExpression="REMOVE #w",
                ConditionExpression="#w = :seen",  # unless it came back meanwhile
                ExpressionAttributeNames={"#w": name},
                ExpressionAttributeValues={":seen": value},
            )
        except ClientError as exc:
            if not is_refusal(exc):
                raise

    def _update(
        self,
        key: str,
        expression: str,
        values: dict[str, Any],
        *,
        condition: str | None = None,
    ) -> int:
        """A conditional update of our own lease; returns ``failed_attempts`` after it (0 when
        unset). ``LeaseLostError`` if the lease (or ``condition``) no longer holds."""
        now = time.time()
        try:
            item = self._db.update_item(
                TableName=self._table,
                Key={"shard_key": {"S": key}},
                UpdateExpression=expression,
                ConditionExpression="#o = :me" + (f" AND {condition}" if condition else ""),
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={
                    ":me": {"S": self.owner},
                    ":exp": {"N": str(now + self.lease_seconds)},
                    ":now": {"N": str(now)},
                    **values,
                },
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            if is_refusal(exc):
                raise LeaseLostError(f"lease on {key} is now held by another worker") from exc
            raise
        return int(item.get("Attributes", {}).get("failed_attempts", {}).get("N", "0"))
