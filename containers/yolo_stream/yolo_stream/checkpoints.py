"""Shard leases and checkpoints in DynamoDB (``CHECKPOINT_TABLE``).

Key schema: partition key ``shard_key`` (S) = ``"<stream name>:<shard id>"``; no sort key.
Attributes: ``sequence_number`` (last fully processed record), ``owner`` and ``lease_expires_at``
(epoch seconds) so that several service tasks (autoscaling) never read one shard together, and
``shard_end`` once a closed shard has been drained.

A checkpoint is written only after a record's result message was sent, and only while this
worker still owns the lease: at-least-once, with duplicates bounded by one record per restart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from yolo_stream.errors import LeaseLostError


@dataclass(frozen=True)
class Lease:
    shard_key: str
    sequence_number: str | None
    shard_end: bool


def shard_key(stream_name: str, shard_id: str) -> str:
    return f"{stream_name}:{shard_id}"


class CheckpointStore:
    def __init__(self, dynamodb: Any, table: str, owner: str, lease_seconds: float) -> None:
        self._db = dynamodb
        self._table = table
        self.owner = owner
        self._lease_seconds = lease_seconds

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
                    ":exp": {"N": str(now + self._lease_seconds)},
                    ":now": {"N": str(now)},
                },
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return Lease(
            shard_key=key,
            sequence_number=item.get("sequence_number", {}).get("S"),
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

    def release(self, key: str) -> None:
        """Give the shard back at shutdown so another worker resumes it without waiting."""
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
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def _update(self, key: str, expression: str, values: dict[str, Any]) -> None:
        now = time.time()
        try:
            self._db.update_item(
                TableName=self._table,
                Key={"shard_key": {"S": key}},
                UpdateExpression=expression,
                ConditionExpression="#o = :me",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={
                    ":me": {"S": self.owner},
                    ":exp": {"N": str(now + self._lease_seconds)},
                    ":now": {"N": str(now)},
                    **values,
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise LeaseLostError(f"lease on {key} is now held by another worker") from exc
            raise
