"""Create a client: an id, a signed WebSocket token and, for polling clients, a FIFO queue of
their own subscribed to ``ResultsTopic`` with a filter policy on ``client_id``.

A poll queue has no dead-letter queue of its own: nothing consumes it but ``GET /results``, which
deletes what it returns (and what can never be returned), so no message can loop; a client that
never polls loses results only to the retention period, and ``GET /jobs/{id}`` still has them.
If any step fails, what was already created is removed: a failed request leaves nothing behind.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError
from provisioner_settings import ProvisionerSettings

from pipeline_common import aws, tokens
from pipeline_common.contracts.clients import CreateClientResponse, Delivery
from pipeline_common.http import ServiceUnavailable
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
    *, delivery: Delivery, now: datetime, settings: ProvisionerSettings
) -> CreateClientResponse:
    client_id = uuid.uuid4().hex
    # Sign first: a missing key fails the request before anything exists.
    issued = tokens.sign(
        client_id,
        tokens.signing_key(settings.token_secret_arn),
        ttl_seconds=settings.token_ttl_seconds,
        now=now.timestamp(),
    )
    record: dict[str, dict[str, str]] = {
        "client_id": {"S": client_id},
        "delivery": {"S": delivery},
        "created_at": {"S": now.isoformat()},
        "ttl": {"N": str(int((now + timedelta(days=settings.client_ttl_days)).timestamp()))},
    }
    created = _Created()
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
    except (ClientError, BotoCoreError) as exc:
        logger.exception("provisioning failed; rolling back", extra={"client_id": client_id})
        created.roll_back()
        raise ServiceUnavailable("the client could not be provisioned; retry") from exc

    logger.info("client provisioned", extra={"client_id": client_id, "delivery": delivery})
    return CreateClientResponse(
        client_id=client_id,
        token=issued.token,
        token_expires_at=datetime.fromtimestamp(issued.expires_at, UTC),
        delivery=delivery,
        queue_url=created.queue_url,
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

    def __init__(self) -> None:
        self.queue_url: str | None = None
        self.subscription_arn: str | None = None

    def roll_back(self) -> None:
        try:
            if self.subscription_arn:
                aws.client("sns").unsubscribe(SubscriptionArn=self.subscription_arn)
            if self.queue_url:
                aws.client("sqs").delete_queue(QueueUrl=self.queue_url)
        except (ClientError, BotoCoreError):
            logger.exception(
                "rollback incomplete",
                extra={"queue_url": self.queue_url, "subscription_arn": self.subscription_arn},
            )
