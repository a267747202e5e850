"""What the provisioner created, as typed records: the one reading of each resource.

The provisioner resolves a resource's properties once, creates it, and records here what the
rest of the local cloud needs (names, URLs, ARNs, the properties the gateway, the load balancer
and the event sources wire from). Nothing after provisioning reads the template's resources
again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.errors import TemplateError
from localcloud.template import Resource

#: The ``StreamArn`` the provisioner gives a table without a ``StreamSpecification`` ends so: it
#: resolves (CloudFormation would refuse the reference), and an event source naming it is refused.
STREAMLESS_TABLE_STREAM_SUFFIX = "/stream/local"


@dataclass(frozen=True)
class Function:
    """A zip function; its properties stay unresolved (they are resolved when it is wired)."""

    logical_id: str
    resource: Resource
    name: str
    arn: str

    @property
    def events(self) -> dict[str, Any]:
        """The SAM ``Events`` of the function, unresolved: ``{name: {Type, Properties}}``."""
        return self.resource.properties.get("Events") or {}


@dataclass(frozen=True)
class Bucket:
    logical_id: str
    name: str
    #: The bucket's own ``NotificationConfiguration.QueueConfigurations`` (S3 -> SQS), in
    #: ``PutBucketNotificationConfiguration``'s shape.
    queue_notifications: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Queue:
    logical_id: str
    name: str
    url: str
    arn: str

    @property
    def fifo(self) -> bool:
        return self.name.endswith(".fifo")


@dataclass(frozen=True)
class Stream:
    """A Kinesis stream."""

    logical_id: str
    name: str
    arn: str


@dataclass(frozen=True)
class Table:
    logical_id: str
    name: str


@dataclass(frozen=True)
class TaskDefinition:
    logical_id: str
    arn: str
    container_definitions: list[dict[str, Any]]
    task_role_arn: str | None


@dataclass(frozen=True)
class Service:
    logical_id: str
    cluster: str
    arn: str
    target_groups: list[str]


@dataclass(frozen=True)
class Part:
    """A resource read only as part of another (an API's route, a listener's rule...): its
    ``Ref`` value and its resolved properties."""

    logical_id: str
    ref: str
    props: dict[str, Any]


@dataclass
class RestApi:
    """An ``AWS::Serverless::Api``; its routes are the functions' ``Api`` events."""

    logical_id: str
    id: str
    props: dict[str, Any]


@dataclass
class V2Api:
    """An ``AWS::ApiGatewayV2::Api`` (WebSocket or HTTP) with the resources that name it in
    ``ApiId``; integrations and authorizers by their ``Ref`` (what routes name)."""

    logical_id: str
    id: str
    props: dict[str, Any]
    routes: list[Part] = field(default_factory=list)
    integrations: dict[str, Part] = field(default_factory=dict)
    authorizers: dict[str, Part] = field(default_factory=dict)
    stages: list[Part] = field(default_factory=list)


@dataclass
class Listener:
    logical_id: str
    arn: str
    props: dict[str, Any]
    rules: list[Part] = field(default_factory=list)


@dataclass
class LoadBalancer:
    logical_id: str
    arn: str
    listeners: list[Listener] = field(default_factory=list)


@dataclass(frozen=True)
class TargetGroup:
    logical_id: str
    arn: str
    health_check_path: str


@dataclass
class Provisioned:
    """Every created resource the rest of the local cloud wires from, by logical id."""

    functions: dict[str, Function] = field(default_factory=dict)
    layers: dict[str, Path] = field(default_factory=dict)  # logical id -> ContentUri folder
    buckets: dict[str, Bucket] = field(default_factory=dict)
    queues: dict[str, Queue] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)  # logical id -> topic ARN
    streams: dict[str, Stream] = field(default_factory=dict)
    tables: dict[str, Table] = field(default_factory=dict)
    state_machines: dict[str, str] = field(default_factory=dict)  # logical id -> ARN
    clusters: dict[str, str] = field(default_factory=dict)  # logical id -> cluster name
    task_definitions: dict[str, TaskDefinition] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    rest_apis: dict[str, RestApi] = field(default_factory=dict)
    websocket_apis: dict[str, V2Api] = field(default_factory=dict)
    http_apis: dict[str, V2Api] = field(default_factory=dict)
    user_pools: dict[str, str] = field(default_factory=dict)  # logical id -> pool id
    load_balancers: dict[str, LoadBalancer] = field(default_factory=dict)
    target_groups: dict[str, TargetGroup] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # logical id -> why nothing was made

    def queue_by_arn(self, arn: str) -> Queue:
        for queue in self.queues.values():
            if queue.arn == arn:
                return queue
        raise TemplateError(f"event source queue {arn} is not a queue of the template")

    def v2_api(self, logical_id: str) -> V2Api | None:
        return self.websocket_apis.get(logical_id) or self.http_apis.get(logical_id)

    def listener(self, arn: str) -> tuple[LoadBalancer, Listener] | None:
        for balancer in self.load_balancers.values():
            for listener in balancer.listeners:
                if listener.arn == arn:
                    return balancer, listener
        return None
