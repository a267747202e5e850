"""Create a client for the caller: an id bound to the caller (``owner``), a first one-time
WebSocket ticket and, for polling clients, a FIFO queue of their own subscribed to
``ResultsTopic`` with a filter policy on ``client_id``. Mint further tickets for a caller's
live client.

A poll queue has no dead-letter queue of its own: nothing consumes it but ``GET /results``, which
deletes what it returns (and what can never be returned), so no message can loop; a client that
never polls loses results only to the retention period, and ``GET /jobs/{id}`` still has them.
The per-user limits are checked before anything exists, and if any later step fails, what was
already created is removed: a refused or failed request leaves nothing behind.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError
from provisioner_limits import created_at_stamp, enforce_client_limits
from provisioner_settings import ProvisionerSettings

from pipeline_common import aws, tickets
from pipeline_common.client_records import live_client_of
from pipeline_common.contracts.clients import CreateClientResponse, Delivery, TicketResponse
from pipeline_common.http import NotFound, ServiceUnavailable
from pipeline_common.observability import logger

QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
# The proxy deletes right after receiving; a crash in between makes results visible again soon.
QUEUE_VISIBILITY_SECONDS = 30


def queue_name(prefix: str, client_id: str) -> str:
    return f"{prefix}-client-{client_id}.fifo"


def queue_policy(queue_arn: str, topic_arn: str) -> str:
    """Only ``ResultsTopic`` may send to the client's queue."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ResultsTopicDelivers",
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ],
        }
    )


def filter_policy(client_id: str) -> str:
    return json.dumps({"client_id": [client_id]})


def provision_client(
    *, owner: str, delivery: Delivery, now: datetime, settings: ProvisionerSettings
) -> CreateClientResponse:
    enforce_client_limits(owner=owner, now=now, settings=settings)
    client_id = uuid.uuid4().hex
    record: dict[str, dict[str, str]] = {
        "client_id": {"S": client_id},
        "owner": {"S": owner},
        "delivery": {"S": delivery},
        "created_at": {"S": created_at_stamp(now)},
        "ttl": {"N": str(int((now + timedelta(days=settings.client_ttl_days)).timestamp()))},
    }
    created = _Created(settings)
    try:
        if delivery == "poll":
            queue_url, queue_arn = _create_queue(client_id, created, settings=settings)
            created.subscription_arn = _subscribe(client_id, queue_arn, settings=settings)
            record["queue_url"] = {"S": queue_url}
            record["subscription_arn"] = {"S": created.subscription_arn}
        aws.client("dynamodb").put_item(
            TableName=settings.clients_table,
            Item=record,
            ConditionExpression="attribute_not_exists(client_id)",
        )
        created.client_id = client_id
        ticket = tickets.mint(
            table=settings.tickets_table,
            client_id=client_id,
            owner=owner,
            now=now,
            ttl_seconds=settings.ticket_ttl_seconds,
        )
    except (ClientError, BotoCoreError) as exc:
        logger.exception("provisioning failed; rolling back", extra={"client_id": client_id})
        created.roll_back()
        raise ServiceUnavailable("the client could not be provisioned; retry") from exc

    logger.info(
        "client provisioned",
        extra={
            "client_id": client_id,
            "owner": owner,
            "delivery": delivery,
            "ticket": tickets.fingerprint(ticket.value),
        },
    )
    return CreateClientResponse(
        client_id=client_id,
        delivery=delivery,
        queue_url=created.queue_url,
        ticket=ticket.value,
        ticket_expires_at=datetime.fromtimestamp(ticket.expires_at, UTC),
        websocket_url=settings.websocket_url,
    )


def issue_ticket(
    *, owner: str, client_id: str, now: datetime, settings: ProvisionerSettings
) -> TicketResponse:
    """A new one-time ticket for the caller's live client; 404 for anyone else's, or none."""
    if live_client_of(settings.clients_table, client_id, owner=owner, now=now) is None:
        raise NotFound("no such client", field="client_id")
    try:
        ticket = tickets.mint(
            table=settings.tickets_table,
            client_id=client_id,
            owner=owner,
            now=now,
            ttl_seconds=settings.ticket_ttl_seconds,
        )
    except (ClientError, BotoCoreError) as exc:
        logger.exception("ticket not stored", extra={"client_id": client_id})
        raise ServiceUnavailable("no ticket could be issued; retry") from exc
    logger.info(
        "ticket issued",
        extra={"client_id": client_id, "ticket": tickets.fingerprint(ticket.value)},
    )
    return TicketResponse(
        ticket=ticket.value,
        expires_at=datetime.fromtimestamp(ticket.expires_at, UTC),
        client_id=client_id,
    )


def _create_queue(
    client_id: str, created: _Created, *, settings: ProvisionerSettings
) -> tuple[str, str]:
    sqs = aws.client("sqs")
    url: str = sqs.create_queue(
        QueueName=queue_name(settings.client_queue_prefix, client_id),
        Attributes={
            "FifoQueue": "true",
            "MessageRetentionPeriod": str(QUEUE_RETENTION_SECONDS),
            "VisibilityTimeout": str(QUEUE_VISIBILITY_SECONDS),
            "SqsManagedSseEnabled": "true",
        },
        tags={"client_id": client_id, "purpose": "client-results"},
    )["QueueUrl"]
    created.queue_url = url
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"Policy": queue_policy(arn, settings.results_topic_arn)}
    )
    return url, arn


def _subscribe(client_id: str, queue_arn: str, *, settings: ProvisionerSettings) -> str:
    arn: str = aws.client("sns").subscribe(
        TopicArn=settings.results_topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={
            # Raw delivery: the queue holds the JobResult JSON itself, not an SNS envelope.
            "RawMessageDelivery": "true",
            "FilterPolicyScope": "MessageAttributes",
            "FilterPolicy": filter_policy(client_id),
        },
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    return arn


class _Created:
    """What one provisioning created so far, so a failure can remove exactly that."""

    def __init__(self, settings: ProvisionerSettings) -> None:
        self.settings = settings
        self.client_id: str | None = None
        self.queue_url: str | None = None
        self.subscription_arn: str | None = None

    def roll_back(self) -> None:
        """Undo each step that happened; one failing undo does not stop the others."""
        steps: list[tuple[str, Callable[[], object]]] = []
        if self.client_id:
            key = {"client_id": {"S": self.client_id}}
            table = self.settings.clients_table
            steps.append(
                ("client row", lambda: aws.client("dynamodb").delete_item(TableName=table, Key=key))
            )
        if self.subscription_arn:
            arn = self.subscription_arn
            steps.append(
                ("subscription", lambda: aws.client("sns").unsubscribe(SubscriptionArn=arn))
            )
        if self.queue_url:
            url = self.queue_url
            steps.append(("queue", lambda: aws.client("sqs").delete_queue(QueueUrl=url)))
        for what, undo in steps:
            try:
                undo()
            except (ClientError, BotoCoreError):
                logger.exception(
                    "rollback incomplete",
                    extra={
                        "left_behind": what,
                        "client_id": self.client_id,
                        "queue_url": self.queue_url,
                        "subscription_arn": self.subscription_arn,
                    },
                )
