"""Lambda event sources: the pollers AWS runs on a function's behalf, one module per SAM event
``Type``, each with the poller and how a template's event becomes one (``SOURCE``):

- ``sqs``: ``SQS`` events, an SQS event source mapping.
- ``kinesis``: ``Kinesis`` events, a Kinesis stream mapping.
- ``dynamodb_stream``: ``DynamoDB`` events, a DynamoDB stream mapping.
- ``schedule``: ``Schedule`` events, an EventBridge ``rate(...)`` rule.
- ``s3``, ``sns``: ``S3`` and ``SNS`` events, invoked asynchronously (``async_invoke``).

``Api`` events are served by the local gateway, which reads them itself (``LocalCloud``'s API
wiring); they are listed here so that every SAM event type the local cloud accepts is in one
place. Any other type is refused before anything is created.
"""

from __future__ import annotations

from localcloud.event_sources import dynamodb_stream, kinesis, s3, schedule, sns, sqs
from localcloud.event_sources.wiring import EventSourceType, SamEvent, Wiring

#: Served by the gateway, not by a poller.
_API = EventSourceType("Api", lambda wiring, event: None)

EVENT_SOURCES: dict[str, EventSourceType] = {
    source.type: source
    for source in (
        sqs.SOURCE,
        kinesis.SOURCE,
        dynamodb_stream.SOURCE,
        schedule.SOURCE,
        s3.SOURCE,
        sns.SOURCE,
        _API,
    )
}


def refusal(event: dict[str, object]) -> str | None:
    """Why the local cloud cannot drive a function's SAM event (unresolved), or None."""
    source = EVENT_SOURCES.get(str(event.get("Type")))
    if source is None:
        return str(event.get("Type"))
    props = event.get("Properties") or {}
    return source.refusal(props if isinstance(props, dict) else {})


__all__ = ["EVENT_SOURCES", "EventSourceType", "SamEvent", "Wiring", "refusal"]
