"""The opt-in cloud suite: the e2e scenarios against a deployed stack.

Runs only when ``AWS_SAM_STACK_NAME`` names a deployed stack (and real credentials are
available); otherwise every test here is skipped. The stack's outputs come from CloudFormation
(``tests.support.stack_interface.DeployedStack``, through ``tools.gen_env``), under the template's
output names as on the local cloud. The scenarios the e2e tier shares (``any_stack``) run with it:

    AWS_SAM_STACK_NAME=pipeline AWS_REGION=eu-west-1 pytest -m cloud tests/cloud tests/e2e

``AWS_SAM_PROFILE`` picks an AWS CLI profile. The suite logs in to the stack's user pool like the
CLIs: as ``PIPELINE_USERNAME``/``PIPELINE_PASSWORD`` when both are set, otherwise as a user it
creates for the session and deletes afterwards (that needs ``cognito-idp:Admin*`` on the pool).
The services must be running (deployed with a pushed ``ImageTag``); the first task of a scenario
may wait for a Fargate cold start, hence long timeouts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.stack_interface import STACK_ENV, DeployedStack, aws_session, deployed_stack_name
from tests.support.users import StackUser

STACK_NAME = deployed_stack_name()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.cloud)
            if not STACK_NAME:
                item.add_marker(pytest.mark.skip(reason=f"{STACK_ENV} is not set"))


@pytest.fixture(scope="session")
def deployed() -> Iterator[DeployedStack]:
    """The stack ``AWS_SAM_STACK_NAME`` names; the users the suite made are deleted after it."""
    stack = DeployedStack(STACK_NAME, aws_session(os.environ.get("AWS_SAM_PROFILE")))
    try:
        yield stack
    finally:
        stack.close()


@pytest.fixture(scope="session")
def user(deployed: DeployedStack) -> StackUser:
    """A logged-in user of the stack: ``PIPELINE_USERNAME`` if given, else one made for the
    session."""
    return deployed.given_user() or deployed.new_user("user")


class QueueWatcher:
    """Takes the messages of a shared queue that one test is waiting for, and only those.

    Matching messages are deleted; any other is made visible again at once for its own reader
    (another test, a CLI), so the suite can share a deployed stack's queues.
    """

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs = sqs
        self.queue_url = queue_url

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


@pytest.fixture(scope="session")
def watcher(deployed: DeployedStack) -> Callable[[str], QueueWatcher]:
    sqs = deployed.client("sqs")
    return lambda queue_url: QueueWatcher(sqs, queue_url)


@pytest.fixture
def unique_prefix(request: pytest.FixtureRequest) -> str:
    """A fresh key prefix per test: the suite can run against a stack in use."""
    import uuid

    return f"cloud-tests/{request.node.name}/{uuid.uuid4().hex[:12]}"
