"""One view of a running stack, whichever runs it: the embedded local cloud (``LocalStack``) or a
stack deployed with ``sam deploy`` (``DeployedStack``). Scenarios written against ``Stack`` run on
both, so the e2e tier and the opt-in cloud suite share them instead of writing each twice.

Outputs go by the template's own output names (``RestApiUrl``, ``ImageInputBucketName``...): the
local cloud computes them from template.yaml, CloudFormation answers them for a deployed stack.
"""

from __future__ import annotations

import itertools
import json
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

from clients.env import Endpoints
from localcloud.cloud import LocalCloud
from tests.support.stack import queue_recorder
from tests.support.users import StackUser, create_and_log_in, log_in
from tools.users import delete_user

STACK_ENV = "AWS_SAM_STACK_NAME"
# tests/conftest.py installs these fake keys for moto; they would shadow the real ones.
_FAKE_KEY = "testing"
_FAKE_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


Message = dict[str, Any]


class Messages(Protocol):
    """The messages of one of the stack's result queues."""

    def received(self, wanted: Callable[[Message], bool]) -> list[Message]:
        """Every message so far that ``wanted`` accepts."""
        ...


class Stack(Protocol):
    """What a shared scenario may use of a stack."""

    @property
    def outputs(self) -> Mapping[str, str]:
        """The stack's outputs by the template's output names."""
        ...

    @property
    def task_timeout(self) -> float:
        """Seconds a scenario waits for the first result of a task: a deployed stack's Fargate
        tasks pull their image on first use, the local ones are processes."""
        ...

    def client(self, service: str) -> Any:
        """A boto3 client with the rights of the stack's operator."""
        ...

    def endpoints(self) -> Endpoints:
        """What a CLI reads from its env file (no credential: callers log in)."""
        ...

    def new_user(self, name: str, *, admin: bool = False) -> StackUser:
        """A further logged-in user, whose clients and jobs count against nobody else's limits."""
        ...

    def messages(self, queue_output: str) -> Messages:
        """The queue whose URL is the output ``queue_output``."""
        ...

    def key(self, key: str) -> str:
        """``key`` made this run's own where a stack is shared with other runs."""
        ...


def _endpoints(outputs: Mapping[str, str], aws_endpoint_url: str | None) -> Endpoints:
    return Endpoints(
        rest_api_url=outputs["RestApiUrl"],
        websocket_url=outputs["WebsocketUrl"],
        user_pool_id=outputs["UserPoolId"],
        user_pool_client_id=outputs["UserPoolClientId"],
        services_api_url=outputs.get("ServicesApiUrl"),
        pacs_api_url=outputs.get("PacsApiUrl"),
        aws_endpoint_url=aws_endpoint_url,
    )


class LocalStack:
    """``Stack`` over a running ``LocalCloud``."""

    task_timeout = 90.0

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self._made = itertools.count(1)

    @property
    def outputs(self) -> Mapping[str, str]:
        return self.cloud.outputs

    def client(self, service: str) -> Any:
        return self.cloud.client(service)

    def endpoints(self) -> Endpoints:
        return _endpoints(self.outputs, self.cloud.endpoint)

    def new_user(self, name: str, *, admin: bool = False) -> StackUser:
        return create_and_log_in(
            self.client("cognito-idp"),
            self.outputs["UserPoolId"],
            self.outputs["UserPoolClientId"],
            f"{name}-{next(self._made)}",
            admin=admin,
        )

    def messages(self, queue_output: str) -> Messages:
        return queue_recorder(self.cloud, queue_output)

    def key(self, key: str) -> str:
        return key


def aws_session(profile: str | None = None) -> Any:
    """A boto3 session on real AWS: without the fake keys and the local endpoint the test
    configuration may have set for moto."""
    import boto3

    for name in _FAKE_CREDENTIALS:
        if os.environ.get(name) == _FAKE_KEY:
            os.environ.pop(name)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    return boto3.session.Session(profile_name=profile)


class QueueWatcher:
    """Takes the messages of a shared queue that one test is waiting for, and only those.

    Matching messages are deleted; any other is made visible again at once for its own reader
    (another test, a CLI), so the suite can share a deployed stack's queues.
    """

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self._taken: list[dict[str, Any]] = []

    def take(self, wanted: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        taken = []
        batch = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=10
        ).get("Messages", [])
        for message in batch:
            body = json.loads(message["Body"])
            if wanted(body):
                taken.append(body)
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
            else:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=0,
                )
        return taken

    def received(self, wanted: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        """Every message so far that ``wanted`` accepts (``take`` keeps what it took here)."""
        self._taken.extend(self.take(wanted))
        return [m for m in self._taken if wanted(m)]


class DeployedStack:
    """``Stack`` over a CloudFormation stack. The users it makes are deleted by ``close`` (a
    deployed stack keeps its pool); ``PIPELINE_USERNAME``/``PIPELINE_PASSWORD`` name an existing
    user for callers that cannot create one."""

    task_timeout = 600.0

    def __init__(self, stack_name: str, session: Any) -> None:
        from tools.gen_env import read_stack_outputs

        self.stack_name = stack_name
        self.session = session
        self._outputs = read_stack_outputs(stack_name, session)
        self._created: list[str] = []
        self._watchers: dict[str, QueueWatcher] = {}
        self._run = f"cloud-tests/{uuid.uuid4().hex[:12]}/"

    @property
    def outputs(self) -> Mapping[str, str]:
        return self._outputs

    def client(self, service: str) -> Any:
        return self.session.client(service)

    def endpoints(self) -> Endpoints:
        return _endpoints(self.outputs, None)

    def new_user(self, name: str, *, admin: bool = False) -> StackUser:
        username = f"cloud-tests-{name}-{uuid.uuid4().hex[:8]}"
        user = create_and_log_in(
            self.client("cognito-idp"),
            self.outputs["UserPoolId"],
            self.outputs["UserPoolClientId"],
            username,
            admin=admin,
        )
        self._created.append(username)
        return user

    def messages(self, queue_output: str) -> Messages:
        url = self.outputs[queue_output]
        if url not in self._watchers:
            self._watchers[url] = QueueWatcher(self.client("sqs"), url)
        return self._watchers[url]

    def key(self, key: str) -> str:
        return self._run + key

    def given_user(self) -> StackUser | None:
        """The user ``PIPELINE_USERNAME``/``PIPELINE_PASSWORD`` name, logged in; None if unset."""
        username, password = (
            os.environ.get("PIPELINE_USERNAME"),
            os.environ.get("PIPELINE_PASSWORD"),
        )
        if not (username and password):
            return None
        cognito = self.client("cognito-idp")
        tokens = log_in(cognito, self.outputs["UserPoolClientId"], username, password)
        attributes = cognito.get_user(AccessToken=tokens["AccessToken"])["UserAttributes"]
        sub = next(a["Value"] for a in attributes if a["Name"] == "sub")
        return StackUser(username, password, sub, tokens["IdToken"])

    def close(self) -> None:
        cognito = self.client("cognito-idp")
        while self._created:
            delete_user(cognito, self.outputs["UserPoolId"], self._created.pop())


@contextmanager
def deployed_stack(stack_name: str) -> Iterator[DeployedStack]:
    """The deployed stack, on the real AWS as ``AWS_SAM_PROFILE`` (if set) reaches it; the users
    made on it are deleted at the end of the block."""
    stack = DeployedStack(stack_name, aws_session(os.environ.get("AWS_SAM_PROFILE")))
    try:
        yield stack
    finally:
        stack.close()


def deployed_stack_name() -> str:
    """The deployed stack the suite runs against (``AWS_SAM_STACK_NAME``), or ``""``."""
    return os.environ.get(STACK_ENV, "")
