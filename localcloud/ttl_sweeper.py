"""DynamoDB's Time to Live process, locally (moto stores the TTL setting but never expires items).

AWS deletes an item some time after the epoch-seconds Number in its TTL attribute has passed,
"typically within a few days", as a system delete that the table's stream records as a
``REMOVE`` (with ``userIdentity`` ``{"type": "Service", "principalId":
"dynamodb.amazonaws.com"}``). The local cloud does it every ``interval_seconds`` (2 s by
default), so what a stream consumer does for an expired item is seen in seconds, not days:

- only tables whose TTL is ``ENABLED`` (read from moto each sweep, so ``UpdateTimeToLive`` at
  run time counts), only items whose TTL attribute is a Number in the past, and, as on AWS,
  not items whose expiry is more than five years back (taken for milliseconds or a mistake);
- each delete is conditional on the TTL value the sweep saw, so an item whose TTL was just
  extended is kept, as AWS keeps it;
- moto records the delete on the table's stream like any ``DeleteItem``: the ``REMOVE`` has
  the old image, but no ``userIdentity``. The sweeper remembers what it deleted from tables
  with a stream, and the local DynamoDB stream event source adds TTL's ``userIdentity`` to those
  REMOVEs (``claim``), so a consumer sees what it would see on AWS (it should not depend on it:
  a consumer reading the stream some other way gets moto's record).

Readers must still treat an item whose TTL has passed as gone (AWS returns it until the sweep);
the local sweep makes that window seconds, not hidden.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import ClientError

log = logging.getLogger("localcloud.ttl")

TTL_SWEEP_INTERVAL_SECONDS = 2.0
#: What a stream record of a TTL deletion carries on AWS (and only such a record).
TTL_USER_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
_FIVE_YEARS_SECONDS = 5 * 365 * 24 * 3600
_REMEMBERED_MAX = 10_000  # deletions no stream consumer claimed are forgotten, oldest first


class TtlSweeper:
    """A daemon thread that deletes the expired items of the given tables every few seconds."""

    name = "dynamodb-ttl"

    def __init__(
        self,
        *,
        dynamodb: Any,
        tables: Sequence[str],
        interval_seconds: float = TTL_SWEEP_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.dynamodb = dynamodb
        self.tables = list(tables)
        self.interval = interval_seconds
        self.clock = clock
        self.deleted = 0
        self._keys: dict[str, list[str]] = {}
        self._streamed: dict[str, bool] = {}
        self._swept: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._swept_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sweep_once()
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("TTL sweep failed; retrying")

    def sweep_once(self) -> int:
        """Delete every expired item of every TTL-enabled table now; how many were deleted."""
        deleted = 0
        for table in self.tables:
            attribute = self._ttl_attribute(table)
            if attribute:
                deleted += self._sweep(table, attribute)
        self.deleted += deleted
        return deleted

    def _ttl_attribute(self, table: str) -> str | None:
        description = self.dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        if description.get("TimeToLiveStatus") != "ENABLED":
            return None
        return str(description["AttributeName"])

    def claim(self, table: str, keys: dict[str, Any]) -> bool:
        """Whether this sweeper deleted the item of ``keys`` from ``table`` (and the deletion was
        not claimed yet): its stream REMOVE is then a TTL deletion."""
        identity = (table, _key_id(keys))
        with self._swept_lock:
            count = self._swept.get(identity, 0)
            if count <= 0:
                return False
            if count == 1:
                del self._swept[identity]
            else:
                self._swept[identity] = count - 1
            return True

    def _key_names(self, table: str) -> list[str]:
        if table not in self._keys:
            description = self.dynamodb.describe_table(TableName=table)["Table"]
            self._keys[table] = [k["AttributeName"] for k in description["KeySchema"]]
            self._streamed[table] = bool(
                (description.get("StreamSpecification") or {}).get("StreamEnabled")
            )
        return self._keys[table]

    def _remember(self, table: str, key: dict[str, Any], change: int) -> None:
        if not self._streamed.get(table):
            return
        identity = (table, _key_id(key))
        with self._swept_lock:
            count = self._swept.get(identity, 0) + change
            if count > 0:
                self._swept[identity] = count
            else:
                self._swept.pop(identity, None)
            while len(self._swept) > _REMEMBERED_MAX:
                self._swept.popitem(last=False)

    def _sweep(self, table: str, attribute: str) -> int:
        now = int(self.clock())
        keys = self._key_names(table)
        names = {f"#k{i}": name for i, name in enumerate(keys)} | {"#ttl": attribute}
        scan: dict[str, Any] = {
            "TableName": table,
            # TTL reads Number attributes only (the type test first: moto cannot compare S to N).
            "FilterExpression": "attribute_type(#ttl, :number) AND #ttl < :now AND #ttl >= :oldest",
            "ProjectionExpression": ", ".join(names),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {
                ":number": {"S": "N"},
                ":now": {"N": str(now)},
                ":oldest": {"N": str(now - _FIVE_YEARS_SECONDS)},
            },
        }
        deleted = 0
        for page in self.dynamodb.get_paginator("scan").paginate(**scan):
            for item in page.get("Items", []):
                if self._expire(table, attribute, keys, item):
                    deleted += 1
        if deleted:
            log.info("TTL: %d expired item(s) deleted from %s", deleted, table)
        return deleted

    def _expire(self, table: str, attribute: str, keys: list[str], item: dict[str, Any]) -> bool:
        key = {name: item[name] for name in keys}
        # Remembered before the delete: the stream poller may read the REMOVE at once.
        self._remember(table, key, +1)
        try:
            self.dynamodb.delete_item(
                TableName=table,
                Key=key,
                ConditionExpression="#ttl = :seen",
                ExpressionAttributeNames={"#ttl": attribute},
                ExpressionAttributeValues={":seen": item[attribute]},
            )
        except ClientError as exc:
            self._remember(table, key, -1)
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False  # deleted meanwhile, or its TTL changed: not this sweep's to delete
            raise
        return True


def _key_id(keys: dict[str, Any]) -> str:
    """One spelling of a key, from boto3's item (bytes) or a Lambda record (base64) alike."""
    return json.dumps(keys, sort_keys=True, default=lambda b: base64.b64encode(b).decode())
