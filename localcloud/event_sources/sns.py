"""SNS -> Lambda (SAM ``SNS`` events): an internal queue subscribed to the topic with the event's
filter policy; the function is invoked asynchronously from there."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from localcloud.event_sources.async_invoke import AsyncEventSource, async_source
from localcloud.event_sources.wiring import EventSourceType, SamEvent, Wiring


def unwrap_sns_notification(body: str, topic_arn: str, subscription_arn: str) -> Any:
    """An SNS message (delivered to the internal queue as an envelope) as Lambda receives it."""
    envelope = json.loads(body)
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": {
                    "Type": envelope.get("Type", "Notification"),
                    "MessageId": envelope.get("MessageId", str(uuid.uuid4())),
                    "TopicArn": envelope.get("TopicArn", topic_arn),
                    "Subject": envelope.get("Subject"),
                    "Message": envelope.get("Message", body),
                    "Timestamp": envelope.get("Timestamp", datetime.now(UTC).isoformat()),
                    "MessageAttributes": envelope.get("MessageAttributes", {}),
                },
            }
        ]
    }


def wire(wiring: Wiring, event: SamEvent) -> AsyncEventSource:
    props = event.props
    url, arn = wiring.internal_queue(f"sns-{event.function.logical_id}-{event.name}")
    attributes = {}
    if props.get("FilterPolicy"):
        attributes["FilterPolicy"] = json.dumps(props["FilterPolicy"])
    topic = props["Topic"]
    subscription = wiring.clients("sns").subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=arn,
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    return async_source(
        wiring,
        event.function,
        url,
        lambda body: unwrap_sns_notification(body, topic, subscription),
    )


SOURCE = EventSourceType("SNS", wire)
