"""Delete one of the caller's clients and everything that serves it.

Order matters, and every step is idempotent, so a failed request is finished by its retry:
1. close every live WebSocket connection of the client (``DeleteConnection`` on the stage's
   @connections API; ``GoneException`` means it was already closed) and delete its row;
2. a poll client: remove its subscription, then its queue (already gone counts as done);
3. delete the client row, last, so that until everything above succeeded a retry still finds
   the client (and its owner) instead of answering 404 with a queue left behind;
4. close connections again: a ticket minted before the delete may have opened one while steps
   1-3 ran. After step 3 the authorizer and ``$connect`` refuse the client, so none can follow.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from provisioner_settings import ProvisionerSettings

from pipeline_common import aws
from pipeline_common.client_records import ClientRecord, live_client_of
from pipeline_common.http import NotFound, ServiceUnavailable
from pipeline_common.observability import logger

CLIENT_INDEX = "client_id-index"
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=5)
# What SNS and SQS answer for a subscription or queue that no longer exists: already done.
_ALREADY_GONE = {"NotFound", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


class ConnectionsNotClosed(RuntimeError):
    """At least one connection could not be closed for a reason other than being gone."""


@lru_cache(maxsize=4)
def management_client(endpoint: str) -> Any:
    # The @connections API lives on the WebSocket stage's own URL, which AWS requires to be named
    # (it is not in AWS_ENDPOINT_URL's scope); ResultPushFunction builds its client the same way.
    return boto3.client("apigatewaymanagementapi", endpoint_url=endpoint, config=_CONFIG)


def delete_client(
    *, owner: str, client_id: str, now: datetime, settings: ProvisionerSettings
) -> None:
    """Delete the caller's live client; 404 for anyone else's (admins included), or none."""
    record = live_client_of(settings.clients_table, client_id, owner=owner, now=now)
    if record is None:
        raise NotFound("no such client", field="client_id")
    closed = 0
    try:
        closed = close_connections(client_id, settings=settings)
        _remove_queue(record)
        aws.client("dynamodb").delete_item(
            TableName=settings.clients_table,
            Key={"client_id": {"S": client_id}},
            ConditionExpression="#owner = :owner",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":owner": {"S": owner}},
        )
    except (ClientError, BotoCoreError, ConnectionsNotClosed) as exc:
        if _code(exc) == "ConditionalCheckFailedException":
            # A concurrent DELETE of the same client finished first: the outcome is the same.
            logger.info("client already deleted", extra={"client_id": client_id})
        else:
            logger.exception("client deletion incomplete", extra={"client_id": client_id})
            raise ServiceUnavailable("the client could not be deleted completely; retry") from exc
    try:
        closed += close_connections(client_id, settings=settings)
    except (ClientError, BotoCoreError, ConnectionsNotClosed):
        # The client is gone, so nothing is pushed to such a connection; its TTL sweeps the row.
        logger.exception("a late connection could not be closed", extra={"client_id": client_id})
    logger.info(
        "client deleted",
        extra={"client_id": client_id, "owner": owner, "connections_closed": closed},
    )


def close_connections(client_id: str, *, settings: ProvisionerSettings) -> int:
    """Close and forget every connection of ``client_id``; how many there were."""
    connection_ids = _connections_of(client_id, settings=settings)
    if not connection_ids:
        return 0
    api = management_client(settings.management_endpoint)
    failures = 0
    for connection_id in connection_ids:
        try:
            api.delete_connection(ConnectionId=connection_id)
        except api.exceptions.GoneException:
            logger.info("connection already closed", extra={"connection_id": connection_id})
        except ClientError:
            failures += 1
            logger.exception("connection not closed", extra={"connection_id": connection_id})
            continue
        aws.client("dynamodb").delete_item(
            TableName=settings.connections_table, Key={"connection_id": {"S": connection_id}}
        )
    if failures:
        raise ConnectionsNotClosed(
            f"{failures} of {len(connection_ids)} connections of {client_id} are still open"
        )
    return len(connection_ids)


def _connections_of(client_id: str, *, settings: ProvisionerSettings) -> list[str]:
    paginator = aws.client("dynamodb").get_paginator("query")
    pages = paginator.paginate(
        TableName=settings.connections_table,
        IndexName=CLIENT_INDEX,
        KeyConditionExpression="client_id = :c",
        ExpressionAttributeValues={":c": {"S": client_id}},
        ProjectionExpression="connection_id",
    )
    return [item["connection_id"]["S"] for page in pages for item in page.get("Items", [])]


def _remove_queue(record: ClientRecord) -> None:
    """A poll client's subscription, then its queue; either already gone is fine."""
    if record.subscription_arn:
        _unless_gone(lambda: aws.client("sns").unsubscribe(SubscriptionArn=record.subscription_arn))
    if record.queue_url:
        _unless_gone(lambda: aws.client("sqs").delete_queue(QueueUrl=record.queue_url))


def _unless_gone(call: Callable[[], object]) -> None:
    try:
        call()
    except ClientError as exc:
        if _code(exc) not in _ALREADY_GONE:
            raise


def _code(exc: BaseException) -> str | None:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code"))
    return None
