"""What turning a SAM function event into a poller needs, shared by every event source.

Each event source module declares an ``EventSourceType``: the SAM event ``Type`` it drives, how
to wire one event of that type (``wire``), and, where the template may ask for more than it
emulates, what it refuses before anything is created (``refusal``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from localcloud.event_sources.poller import Poller
from localcloud.intrinsics import Resolver
from localcloud.provisioned import Function, Provisioned
from localcloud.runtime import FunctionRuntime


@dataclass(frozen=True)
class SamEvent:
    """One entry of a function's SAM ``Events``, its properties resolved."""

    function: Function
    name: str
    props: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.function.logical_id}.{self.name}"


@dataclass
class Wiring:
    """The local cloud as the event sources see it while they are wired."""

    clients: Callable[[str], Any]
    runtime: FunctionRuntime
    provisioned: Provisioned
    resolver: Resolver
    region: str
    account_id: str
    stack_name: str
    #: The TTL sweeper's ``claim``: was this REMOVE one of its deletions?
    ttl_deletions: Callable[[str, dict[str, Any]], bool]
    #: Bucket name -> ``QueueConfigurations``: S3 events add theirs while they are wired, and
    #: each bucket's whole configuration is put once at the end (a put replaces the last).
    bucket_notifications: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def on_failure_queue_url(self, props: dict[str, Any]) -> str | None:
        """The queue of a stream event's ``DestinationConfig.OnFailure``, if it names one."""
        on_failure = (props.get("DestinationConfig") or {}).get("OnFailure", {})
        if not on_failure.get("Destination"):
            return None
        return self.provisioned.queue_by_arn(on_failure["Destination"]).url

    def internal_queue(self, name: str) -> tuple[str, str]:
        """A queue of the local cloud's own (URL, ARN), where S3 or SNS deliver for a function
        AWS would invoke asynchronously."""
        queue_name = f"localcloud-{name}"[:80]
        url = self.clients("sqs").create_queue(QueueName=queue_name)["QueueUrl"]
        return url, f"arn:aws:sqs:{self.region}:{self.account_id}:{queue_name}"


@dataclass(frozen=True)
class EventSourceType:
    """How the local cloud drives one SAM event ``Type``."""

    type: str
    #: The poller for one event; None where another part of the local cloud serves the event.
    wire: Callable[[Wiring, SamEvent], Poller | None]
    #: Why an event of this type cannot be driven (its properties unresolved), or None.
    refusal: Callable[[dict[str, Any]], str | None] = lambda props: None
