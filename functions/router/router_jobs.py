"""JobsTable as the router uses it, and the only place the router builds or reads its items.

A job row belongs to the user who submitted it (``owner``, the token's ``sub``): the status route
shows it to that user (and admins) only. ``created_at`` is a fixed-width ISO-8601 UTC string, the
range key of the ``owner-index`` GSI, so "jobs this user created since T" is one key-condition
query: fixed width keeps string order equal to time order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from pipeline_common import aws
from pipeline_common.contracts.jobs import JobStatus

OWNER_INDEX = "owner-index"


def iso_utc(moment: datetime) -> str:
    """``2026-01-19T09:15:32.114000+00:00``: always microseconds, always ``+00:00``."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    # None only for a row a worker created without the router (visible to admins alone).
    owner: str | None
    status: JobStatus
    client_id: str
    algo_id: str
    request: str  # the queued JobMessage's JSON, sent again on a replay
    request_hash: str
    created_at: str
    ttl: int

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "job_id": {"S": self.job_id},
            "status": {"S": self.status.value},
            "client_id": {"S": self.client_id},
            "algo_id": {"S": self.algo_id},
            "request": {"S": self.request},
            "request_hash": {"S": self.request_hash},
            "created_at": {"S": self.created_at},
            "updated_at": {"S": self.created_at},
            "ttl": {"N": str(self.ttl)},
        }
        if self.owner is not None:
            item["owner"] = {"S": self.owner}
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> JobRecord:
        def text(name: str) -> str:
            value: str = item.get(name, {}).get("S", "")
            return value

        return cls(
            job_id=text("job_id"),
            owner=text("owner") or None,
            status=JobStatus(text("status")),
            client_id=text("client_id"),
            algo_id=text("algo_id"),
            request=text("request"),
            request_hash=text("request_hash"),
            created_at=text("created_at"),
            ttl=int(item.get("ttl", {}).get("N", "0")),
        )


class JobsTable:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def put_new(self, record: JobRecord) -> bool:
        """Write ``record`` if its ``job_id`` is free; False when the id is taken."""
        try:
            aws.client("dynamodb").put_item(
                TableName=self.table_name,
                Item=record.to_item(),
                ConditionExpression="attribute_not_exists(job_id)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get(self, job_id: str) -> JobRecord | None:
        found = aws.client("dynamodb").get_item(
            TableName=self.table_name, Key={"job_id": {"S": job_id}}, ConsistentRead=True
        )
        return JobRecord.from_item(found["Item"]) if "Item" in found else None

    def forget_unqueued(self, *, job_id: str, request_hash: str) -> None:
        """Remove a job this request just wrote and could not queue (still QUEUED, same hash)."""
        aws.client("dynamodb").delete_item(
            TableName=self.table_name,
            Key={"job_id": {"S": job_id}},
            ConditionExpression="#s = :queued AND request_hash = :digest",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":queued": {"S": JobStatus.QUEUED.value},
                ":digest": {"S": request_hash},
            },
        )

    def count_created_since(self, *, owner: str, since: datetime, limit: int) -> int:
        """Jobs ``owner`` created after ``since``, counted up to ``limit`` (enough to decide a
        cap, without reading a heavy user's whole minute)."""
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": OWNER_INDEX,
            "KeyConditionExpression": "#owner = :owner AND created_at > :since",
            "ExpressionAttributeNames": {"#owner": "owner"},
            "ExpressionAttributeValues": {
                ":owner": {"S": owner},
                ":since": {"S": iso_utc(since)},
            },
            "Select": "COUNT",
        }
        count = 0
        while count < limit:
            page = aws.client("dynamodb").query(**arguments, Limit=limit - count)
            count += int(page.get("Count", 0))
            if "LastEvaluatedKey" not in page:
                break
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return count
