"""Per-object claims in ImageClaimsTable: in batched mode, each object version is worked on and
reported by exactly one batch.

One row per object id (the hash of bucket, key and version that names a per-object execution):

- ``claim``: taken when the row does not exist, or re-taken by the batch that already holds it
  while it is still ``PROCESSING`` (the same batch run again: a task crash retried by the state
  machine, or a redelivered batch that starts the same execution). Any other batch is refused:
  the object is already reported, or another batch (a duplicate notification) owns it and will
  report it, from its task or from its state machine's failure branch.
- ``finish``: ``PROCESSING`` -> ``REPORTED`` by the holder, after its result message was sent.

The state machine's failure branch uses the same condition (row absent, or held by this batch and
not reported) before it sends a batch's remaining FAILED messages, so every object gets one
message. The one window left is a task killed between sending a message and ``finish``: the retry
sends that object's message again (the per-object mode has the same window between the message
and the task's exit).
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

PROCESSING = "PROCESSING"
REPORTED = "REPORTED"


def _conditional_update(table: str, object_id: str, **kwargs: Any) -> bool:
    from pipeline_common.aws import client
    from pipeline_common.tables.attributes import is_refusal

    try:
        client("dynamodb").update_item(
            TableName=table, Key={"object_id": {"S": object_id}}, **kwargs
        )
    except ClientError as exc:
        if is_refusal(exc):
            return False
        raise
    return True


def claim(table: str, object_id: str, *, batch_id: str, ttl_days: int) -> bool:
    """True when this batch may work on the object now."""
    return _conditional_update(
        table,
        object_id,
        UpdateExpression=(
            "SET #state = :processing, batch_id = :batch, expires_at = :expires, "
            "attempts = if_not_exists(attempts, :zero) + :one"
        ),
        ConditionExpression=(
            "attribute_not_exists(object_id) OR (batch_id = :batch AND #state = :processing)"
        ),
        ExpressionAttributeNames={"#state": "state"},
        ExpressionAttributeValues={
            ":processing": {"S": PROCESSING},
            ":batch": {"S": batch_id},
            ":expires": {"N": str(int(time.time()) + ttl_days * 86_400)},
            ":zero": {"N": "0"},
            ":one": {"N": "1"},
        },
    )


def finish(table: str, object_id: str, *, batch_id: str, status: str) -> bool:
    """Mark the object reported; False if this batch no longer holds it (nothing changes)."""
    return _conditional_update(
        table,
        object_id,
        UpdateExpression="SET #state = :reported, outcome = :status",
        ConditionExpression="batch_id = :batch AND #state = :processing",
        ExpressionAttributeNames={"#state": "state"},
        ExpressionAttributeValues={
            ":reported": {"S": REPORTED},
            ":processing": {"S": PROCESSING},
            ":batch": {"S": batch_id},
            ":status": {"S": status},
        },
    )
