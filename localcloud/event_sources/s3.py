"""S3 -> Lambda (SAM ``S3`` events): moto delivers the bucket's notification, with the event's
prefix and suffix filters, to an internal queue, and the function is invoked asynchronously
from there. A bucket's own ``QueueConfigurations`` (S3 -> SQS) are put in the same
configuration, since each put replaces the bucket's whole notification configuration."""

from __future__ import annotations

import json
from typing import Any

from localcloud.event_sources.async_invoke import AsyncEventSource, async_source
from localcloud.event_sources.wiring import EventSourceType, SamEvent, Wiring


def unwrap_s3_notification(body: str) -> Any | None:
    """An S3 notification as Lambda receives it; S3's queue-only ``s3:TestEvent`` is dropped."""
    event = json.loads(body)
    if event.get("Event") == "s3:TestEvent":
        return None
    return event


def wire(wiring: Wiring, event: SamEvent) -> AsyncEventSource:
    props = event.props
    url, arn = wiring.internal_queue(f"s3-{event.function.logical_id}-{event.name}")
    events = props["Events"] if isinstance(props["Events"], list) else [props["Events"]]
    config: dict[str, Any] = {"QueueArn": arn, "Events": events}
    if props.get("Filter"):
        config["Filter"] = {"Key": {"FilterRules": props["Filter"]["S3Key"]["Rules"]}}
    wiring.bucket_notifications.setdefault(props["Bucket"], []).append(config)
    return async_source(wiring, event.function, url, unwrap_s3_notification)


def put_bucket_notifications(wiring: Wiring) -> None:
    """Each bucket's notifications, once every S3 event is wired: the functions' (above), then
    the bucket's own ``QueueConfigurations``."""
    notifications = wiring.bucket_notifications
    for bucket in wiring.provisioned.buckets.values():
        for config in bucket.queue_notifications:
            notifications.setdefault(bucket.name, []).append(config)
    for bucket_name, queue_configs in notifications.items():
        wiring.clients("s3").put_bucket_notification_configuration(
            Bucket=bucket_name,
            NotificationConfiguration={"QueueConfigurations": queue_configs},
        )


SOURCE = EventSourceType("S3", wire)
