"""Tearing down what serves a client: its live WebSocket connections and, for a poll client
provisioned before poll mode read JobsTable (a legacy row with ``queue_url`` and
``subscription_arn``), its subscription and queue. Poll clients provisioned since have neither
(``GET /results`` reads JobsTable), so for them ``remove_delivery`` has nothing to do; it stays so
that an upgraded stack still cleans up the clients it had.

Two callers, one set of steps: ``DELETE /clients/{id}`` (ProvisionerFunction, synchronously, so
its 204 means done) and ClientReaperFunction (from ClientsTable's stream, for every removed row:
a TTL expiry, or a DELETE whose work it then finds already done). Every step is idempotent: a
connection already closed (``GoneException``), a subscription or a queue already gone all count
as done, so a retry, or the second caller, finishes what the first left.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from pipeline_common import aws
from pipeline_common.observability import logger
from pipeline_common.tables.clients import ClientRecord
from pipeline_common.tables.connections import connection_ids_of, remove_connection

# What SNS and SQS answer for a subscription or queue that no longer exists: already done.
ALREADY_GONE = frozenset(
    {"NotFound", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
)


class ConnectionsNotClosed(RuntimeError):
    """At least one connection could not be closed for a reason other than being gone."""


def close_connections(client_id: str, *, connections_table: str, api: Any) -> int:
    """Close and forget every connection of ``client_id`` through ``api`` (the stage's
    @connections client); how many there were. A row is deleted only once its socket is closed
    or gone, so a failure leaves the row for the retry to find."""
    connection_ids = connection_ids_of(connections_table, client_id)
    close_connection_ids(
        connection_ids, connections_table=connections_table, api=api, client_id=client_id
    )
    return len(connection_ids)


def close_connection_ids(
    connection_ids: list[str], *, connections_table: str, api: Any, client_id: str
) -> None:
    """Close and forget these connections of ``client_id``; ``ConnectionsNotClosed`` if any
    could not be closed (its row is kept)."""
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
        remove_connection(connections_table, connection_id)
    if failures:
        raise ConnectionsNotClosed(
            f"{failures} of {len(connection_ids)} connections of {client_id} are still open"
        )


def remove_delivery(record: ClientRecord) -> None:
    """A legacy poll client's subscription, then its queue (the subscription first, so SNS
    never delivers to a deleted queue); either already gone is fine. Push clients and poll
    clients provisioned since poll mode reads JobsTable have neither: nothing is called."""
    if record.subscription_arn:
        arn = record.subscription_arn
        _unless_gone(lambda: aws.client("sns").unsubscribe(SubscriptionArn=arn))
    if record.queue_url:
        url = record.queue_url
        _unless_gone(lambda: aws.client("sqs").delete_queue(QueueUrl=url))


def _unless_gone(call: Callable[[], object]) -> None:
    try:
        call()
    except ClientError as exc:
        if aws.error_code(exc) not in ALREADY_GONE:
            raise
