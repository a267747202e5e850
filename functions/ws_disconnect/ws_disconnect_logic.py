"""Forget a connection. ``$disconnect`` is best effort on API Gateway's side (it may never come,
or come twice), so a missing item is a normal 200 and the TTL catches what is never deleted.

Fail fast: one DynamoDB call with a short-retry client; nothing here waits on anything else.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config
from ws_disconnect_settings import WsDisconnectSettings

from pipeline_common.observability import logger
from pipeline_common.tables.connections import remove_connection

# Nobody waits on $disconnect and the TTL is the safety net: two quick tries, not five slow ones.
_FAST = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=2, read_timeout=2)


@lru_cache(maxsize=1)
def _dynamodb() -> Any:
    return boto3.client("dynamodb", config=_FAST)


def forget_connection(*, connection_id: str, settings: WsDisconnectSettings) -> dict:
    found = remove_connection(settings.connections_table, connection_id, dynamodb=_dynamodb())
    logger.info("disconnected", extra={"connection_id": connection_id, "was_known": found})
    return {"statusCode": 200, "body": "Disconnected"}
