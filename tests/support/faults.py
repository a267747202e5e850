"""Faults injected into a running local cloud: service tasks killed or frozen, a service scaled
to zero for a while, running tasks killed, DynamoDB throttling a share of the calls.

The local cloud runs ECS services and tasks as process groups (``localcloud.containers``) and
moto's server in the test's own process, so a signal reaches exactly one task, and a patch of
moto's DynamoDB handler is what every function and container sees.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from localcloud.cloud import LocalCloud
from tests.support.waiting import wait_for


def _service_arn(cloud: LocalCloud, logical_id: str) -> str:
    assert cloud.services is not None
    name = f"/{cloud.stack_name}-{logical_id}"
    [arn] = [arn for arn in cloud.services.services if arn.endswith(name)]
    return arn


def service_pids(cloud: LocalCloud, logical_id: str) -> list[int]:
    """Process ids of the service's live tasks (each the leader of its process group)."""
    assert cloud.services is not None
    instances = cloud.services.instances[_service_arn(cloud, logical_id)]
    return [i.process.popen.pid for i in list(instances) if i.process.popen.poll() is None]


def signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)


def kill_service_task(cloud: LocalCloud, logical_id: str) -> int:
    """SIGKILL one task of the service (no clean shutdown); ECS replaces it. Returns its pid."""
    [pid, *_] = service_pids(cloud, logical_id)
    signal_group(pid, signal.SIGKILL)
    wait_for(lambda: pid not in service_pids(cloud, logical_id), timeout=10, what=f"{pid} to die")
    return pid


def wait_for_tasks(
    cloud: LocalCloud, logical_id: str, count: int, timeout: float = 60
) -> list[int]:
    def held() -> list[int]:
        pids = service_pids(cloud, logical_id)
        return pids if len(pids) == count else []

    return wait_for(held, timeout=timeout, what=f"{count} task(s) of {logical_id}")


def scale(cloud: LocalCloud, logical_id: str, count: int, timeout: float = 60) -> list[int]:
    """Set the service's desired count (as autoscaling would) and wait until it holds."""
    cloud.client("ecs").update_service(
        cluster=cloud.outputs["ClusterName"],
        service=_service_arn(cloud, logical_id),
        desiredCount=count,
    )
    if count == 0:
        wait_for(lambda: not service_pids(cloud, logical_id), timeout=timeout, what="scale in")
        return []
    return wait_for_tasks(cloud, logical_id, count, timeout)


@contextlib.contextmanager
def frozen(pid: int) -> Iterator[None]:
    """The process group stopped (SIGSTOP): a task that hangs, holding its sockets and
    messages, sending no heartbeat. Resumed (SIGCONT) at the end of the block."""
    signal_group(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        signal_group(pid, signal.SIGCONT)


def task_pids(cloud: LocalCloud, container: str) -> list[int]:
    """Process ids of the running RunTask tasks (Step Functions' ones too) of one container."""
    assert cloud.tasks is not None
    with cloud.tasks._lock:  # the launcher's own registry of running tasks
        running = list(cloud.tasks._running.values())
    return [
        p.popen.pid
        for p in running
        if p.popen.poll() is None and p.log_path.name.startswith(f"{container}-")
    ]


# ---- DynamoDB throttling ---------------------------------------------------------------------

THROTTLED = "ProvisionedThroughputExceededException"


@dataclass
class Throttle:
    """Counts the calls seen and refused while ``dynamodb_throttled`` is active."""

    tables: set[str]
    every: int
    seen: int = 0
    refused: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refuse(self, operation: str, table: str | None) -> bool:
        if table not in self.tables:
            return False
        with self.lock:
            self.seen += 1
            if self.seen % self.every:
                return False
            self.refused += 1
            self.by_operation[operation] = self.by_operation.get(operation, 0) + 1
            return True


@contextlib.contextmanager
def dynamodb_throttled(
    tables: list[str],
    *,
    every: int = 2,
    operations: tuple[str, ...] = ("get_item", "put_item", "update_item", "delete_item", "query"),
) -> Iterator[Throttle]:
    """Every ``every``-th call of ``operations`` on ``tables`` answers HTTP 400
    ``ProvisionedThroughputExceededException``, as DynamoDB does past a table's capacity (the
    SDKs retry it with back-off). Patches moto's handler, which serves every process here."""
    from moto.dynamodb.exceptions import DynamodbException
    from moto.dynamodb.responses import DynamoHandler

    throttle = Throttle(set(tables), every)
    originals: dict[str, Callable[..., Any]] = {}

    def patched(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def call(self: Any) -> Any:
            if throttle.refuse(name, (getattr(self, "body", None) or {}).get("TableName")):
                raise DynamodbException(
                    f"com.amazonaws.dynamodb.v20120810#{THROTTLED}",
                    "The level of configured provisioned throughput for the table was exceeded.",
                )
            return original(self)

        return call

    for name in operations:
        originals[name] = getattr(DynamoHandler, name)
        setattr(DynamoHandler, name, patched(name, originals[name]))
    try:
        yield throttle
    finally:
        for name, original in originals.items():
            setattr(DynamoHandler, name, original)


def outage(cloud: LocalCloud, logical_id: str, seconds: float) -> threading.Thread:
    """The service down (desired count 0) for ``seconds``, then back to one task, in the
    background; join the thread to wait for the service's return."""

    def run() -> None:
        scale(cloud, logical_id, 0)
        time.sleep(seconds)
        scale(cloud, logical_id, 1)

    thread = threading.Thread(target=run, name=f"outage:{logical_id}", daemon=True)
    thread.start()
    return thread
