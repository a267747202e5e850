"""Fixes and hooks applied to moto, in-process, before its server starts.

Every moto internal touched here (and by ``iam.py``) is listed in ``moto_fingerprints.py`` with
the moto version it was written for and a fingerprint of its source; ``tests/unit/
test_moto_patches.py`` fails when moto changes one of them or fixes a bug patched here.

1. Step Functions service integrations: moto's ``StateTaskService._normalise_parameters`` and
   ``_normalise_response`` are no-ops, so ``ecs:runTask.sync`` fails with
   ``States.Runtime ... 'LaunchType'`` (Step Functions' PascalCase parameters reach boto3 as is).
   We normalise request and response casing with botocore's service model, as LocalStack does.
2. ``ecs:runTask.sync``: AWS fails the state with ``States.TaskFailed`` when an essential container
   exits non-zero; moto reports success for any STOPPED task. We fail it the way AWS does, with the
   task description as the cause.
3. Fargate containers may omit ``memory`` and awsvpc ENIs need a DNS name (moto fails both);
   definite JSON paths such as ``$.Containers[0].ExitCode`` give a scalar, as on AWS.
4. S3 notification records lack ``versionId``; see ``_patch_s3_notification_records``.
5. ``ecs:RunTask`` starts nothing in moto: a hook hands every new task to the local task launcher,
   which runs the container's command as a process and marks the task STOPPED (with the exit code)
   when the process ends.
6. FIFO queues deduplicate only against the messages still in the queue: once a message was
   received and deleted, moto accepts its duplicate. SQS (and an SNS FIFO topic's delivery to it)
   drops a message whose deduplication id was accepted in the last five minutes, whatever became
   of the first; see ``_patch_sqs_fifo_deduplication``.
7. Speed only, same answers: the backend module list and each response class's method names
   are computed once, not per request, and a DynamoDB ``Select=COUNT`` query counts the items it
   matched without deep-copying and projecting each one; see ``_count_queries_without_copies``.
"""

# Monkeypatching moto's internals is untyped by nature.
# mypy: disable-error-code="method-assign,misc,typeddict-item,assignment"

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from functools import cache
from typing import Any

import botocore.session

TaskListener = Callable[[Any, Any], None]  # (backend, task) -> None
_task_listeners: list[TaskListener] = []
_stop_listeners: list[TaskListener] = []
_applied = False


@cache
def _operation_model(service: str, operation: str) -> Any:
    model = botocore.session.get_session().get_service_model(service)
    for name in model.operation_names:
        if name.lower() == operation.replace("_", "").lower():
            return model.operation_model(name)
    return None


def _patch_stepfunctions_normalisation() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service as sts,
    )

    cls = sts.StateTaskService

    def _normalise_parameters(
        self: Any,
        parameters: dict[str, Any],
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        service = self._get_boto_service_name(boto_service_name)
        action = self._get_boto_service_action(service_action_name)
        operation = _operation_model(service, action)
        if operation is not None and operation.input_shape is not None:
            self._to_boto_request(parameters, operation.input_shape)

    def _normalise_response(
        self: Any,
        response: Any,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        service = self._get_boto_service_name(boto_service_name)
        action = self._get_boto_service_action(service_action_name)
        operation = _operation_model(service, action)
        if operation is not None and operation.output_shape is not None:
            self._from_boto_response(response, operation.output_shape)

    # Subclasses that define their own normalisation (SQS, Lambda, API Gateway, SFN) call
    # super(), so replacing the base methods fixes every integration at once.
    cls._normalise_parameters = _normalise_parameters
    cls._normalise_response = _normalise_response


class EcsTaskFailed(Exception):
    """An ECS task run with ``.sync`` stopped with a non-zero essential container exit code."""

    def __init__(self, task_description: dict[str, Any]) -> None:
        super().__init__("States.TaskFailed")
        self.cause = json.dumps(task_description, default=str)


def _patch_ecs_sync_failure() -> None:
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_ecs as ecs_service,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    cls = ecs_service.StateTaskServiceEcs
    original_resolver = cls._build_sync_resolver
    original_from_error = cls._from_error

    def _build_sync_resolver(self: Any, *args: Any, **kwargs: Any) -> Callable[[], Any]:
        resolver = original_resolver(self, *args, **kwargs)

        def sync_resolver() -> Any:
            task = resolver()
            if task:
                exit_codes = [c.get("ExitCode") for c in task.get("Containers", [])]
                if any(code not in (0, None) for code in exit_codes):
                    raise EcsTaskFailed(task)
            return task

        return sync_resolver

    def _from_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, EcsTaskFailed):
            return FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(
                    taskFailedEventDetails=TaskFailedEventDetails(
                        resourceType=self._get_sfn_resource_type(),
                        resource=self._get_sfn_resource(),
                        error="States.TaskFailed",
                        cause=ex.cause,
                    )
                ),
            )
        return original_from_error(self, env, ex)

    cls._build_sync_resolver = _build_sync_resolver
    cls._from_error = _from_error


def _patch_ecs_run_task() -> None:
    from moto.ecs import models as ecs_models

    original = ecs_models.EC2ContainerServiceBackend.run_task

    def run_task(self: Any, *args: Any, **kwargs: Any) -> list[Any]:
        tasks = original(self, *args, **kwargs)
        for task in tasks:
            for listener in list(_task_listeners):
                listener(self, task)
        return tasks

    ecs_models.EC2ContainerServiceBackend.run_task = run_task

    original_stop = ecs_models.EC2ContainerServiceBackend.stop_task

    def stop_task(self: Any, *args: Any, **kwargs: Any) -> Any:
        task = original_stop(self, *args, **kwargs)
        for listener in list(_stop_listeners):
            listener(self, task)
        return task

    ecs_models.EC2ContainerServiceBackend.stop_task = stop_task


def _patch_fargate_resource_requirements() -> None:
    """Fargate containers may omit ``memory`` (the task's memory applies); moto adds None."""
    from moto.ecs import models as ecs_models

    original = ecs_models.EC2ContainerServiceBackend._calculate_task_resource_requirements

    def calculate(task_definition: Any) -> dict[str, Any]:
        for definition in task_definition.container_definitions:
            keys = ("memory", "memoryReservation", "Memory", "MemoryReservation")
            if not any(definition.get(key) for key in keys):
                definition["memoryReservation"] = 0
        return original(task_definition)

    ecs_models.EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(
        calculate
    )


def _patch_eni_private_dns_name() -> None:
    """moto's awsvpc RunTask reads ``eni.private_dns_name``, which its ENI model lacks."""
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface

    if not hasattr(NetworkInterface, "private_dns_name"):

        def private_dns_name(self: Any) -> str:
            address = str(self.private_ip_address).replace(".", "-")
            return f"ip-{address}.ec2.internal"

        NetworkInterface.private_dns_name = property(private_dns_name)  # type: ignore[attr-defined]


def _patch_definite_json_paths() -> None:
    """AWS returns a scalar for a definite path such as ``$.Containers[0].ExitCode``; moto returns
    ``[value]`` whenever an index appears mid-path. A definite path (no wildcard, slice, filter or
    recursive descent) matches at most one value, so a single match is unpacked."""
    import re

    from moto.stepfunctions.parser.asl.utils import json_path

    indefinite = re.compile(r"\[\s*(\*|-?\d*\s*:|\?)|\.\.")
    original = json_path._is_singleton_array_access

    def is_singleton(path: str) -> bool:
        return bool(original(path)) or not indefinite.search(path)

    json_path._is_singleton_array_access = is_singleton


def _patch_s3_notification_records() -> None:
    """S3 event records as AWS sends them: ``versionId`` and ``sequencer`` on the object (moto
    omits both; without a version, "process each object version once" cannot work), and keys
    URL-encoded with their slashes kept (moto encodes ``/`` as ``%2F``)."""
    from urllib.parse import quote_plus

    from moto.s3 import notifications

    original = notifications._get_s3_event

    def get_s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> Any:
        event = original(event_name, bucket, key, notification_id)
        for record in event["Records"]:
            obj = record["s3"]["object"]
            obj["key"] = quote_plus(key.name, safe="/")
            version = getattr(key, "version_id", None)
            if version and version != "null":
                obj["versionId"] = version
            obj["sequencer"] = f"{int(key.last_modified.timestamp() * 1e6):016X}"
            record.setdefault("userIdentity", {"principalId": "AWS:LOCALCLOUD"})
            record.setdefault("requestParameters", {"sourceIPAddress": "127.0.0.1"})
            record.setdefault(
                "responseElements",
                {"x-amz-request-id": "LOCALCLOUD", "x-amz-id-2": "localcloud"},
            )
        return event

    notifications._get_s3_event = get_s3_event


def _patch_sqs_fifo_deduplication() -> None:
    """A FIFO queue remembers every deduplication id it accepted for five minutes (moto forgets
    one as soon as its message is deleted, so a redelivered job's republished result, or a
    replayed video frame, would reach the consumer twice)."""
    import threading
    import time

    from moto.sqs import models as sqs_models

    original = sqs_models.Queue.add_message
    lock = threading.Lock()

    def add_message(self: Any, message: Any) -> None:
        dedup = message.deduplication_id if self.fifo_queue else None
        if dedup:
            now = time.monotonic()
            with lock:
                seen: dict[str, float] = self.__dict__.setdefault("_localcloud_dedup", {})
                for key in [k for k, at in seen.items() if now - at >= _DEDUPLICATION_SECONDS]:
                    del seen[key]
                if dedup in seen:
                    return  # accepted (and answered with a message id) but not delivered again
                seen[dedup] = now
        original(self, message)

    sqs_models.Queue.add_message = add_message


_DEDUPLICATION_SECONDS = 300


def _make_task_states_manual() -> None:
    """moto advances a task's status on every read; ours change only when the process ends."""
    from moto.moto_api import state_manager

    state_manager.set_transition(
        model_name="ecs::task", transition={"progression": "manual", "times": 10**9}
    )


def _cache_moto_module_list() -> None:
    """moto's server picks the backend of every request under one global lock, and the lookup
    lists moto's package folder (``os.listdir`` and an ``isdir`` per service) each time: the
    folder never changes while the server runs, so it is listed once. (Local only: AWS has no
    such dispatcher; measured by bench/bench_job_latency.py.)"""
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]


def _cache_method_names() -> None:
    """Every request lists its response class's methods with ``inspect.getmembers`` to check the
    action exists; the classes do not change while the server runs, so each is listed once."""
    from moto.core import responses

    names_of = cache(responses.method_names_from_class)
    responses.method_names_from_class = names_of  # type: ignore[assignment]


_counting = threading.local()


def _count_queries_without_copies() -> None:
    """moto answers a ``Query`` by deep-copying every item its key condition matched, projecting
    the copies onto the index, and only then, for ``Select=COUNT``, keeping just their number.
    A count over a user's jobs of the last minute (the router's rate check) then costs a copy of
    each job, which grows with the jobs in the window; DynamoDB counts a KEYS_ONLY index's
    entries. While a COUNT query without a filter runs (the items never leave moto, only their
    number), the copy and the projection hand the stored item through unchanged. A query with a
    filter, or one that returns items, is untouched."""
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import SecondaryIndex
    from moto.dynamodb.responses import DynamoHandler

    query = DynamoHandler.query

    def counting_query(self: Any) -> Any:
        body = self.body
        _counting.active = body.get("Select") == "COUNT" and not (
            body.get("FilterExpression") or body.get("QueryFilter")
        )
        try:
            return query(self)
        finally:
            _counting.active = False

    deepcopy_item = Item.__deepcopy__
    project = SecondaryIndex.project

    def item_deepcopy(self: Any, memo: dict[int, Any]) -> Any:
        return self if getattr(_counting, "active", False) else deepcopy_item(self, memo)

    def index_project(self: Any, item: Any) -> Any:
        return item if getattr(_counting, "active", False) else project(self, item)

    DynamoHandler.query = counting_query
    Item.__deepcopy__ = item_deepcopy
    SecondaryIndex.project = index_project


def apply() -> None:
    global _applied
    if _applied:
        return
    _patch_stepfunctions_normalisation()
    _patch_ecs_sync_failure()
    _patch_ecs_run_task()
    _patch_fargate_resource_requirements()
    _patch_eni_private_dns_name()
    _patch_definite_json_paths()
    _patch_s3_notification_records()
    _patch_sqs_fifo_deduplication()
    _make_task_states_manual()
    _cache_moto_module_list()
    _cache_method_names()
    _count_queries_without_copies()
    _applied = True


def on_run_task(listener: TaskListener) -> None:
    _task_listeners.append(listener)


def on_stop_task(listener: TaskListener) -> None:
    _stop_listeners.append(listener)


def remove_listeners(*listeners: TaskListener) -> None:
    for registry in (_task_listeners, _stop_listeners):
        registry[:] = [known for known in registry if known not in listeners]
