"""The opt-in cloud suite: the e2e scenarios against a deployed stack.

Runs only when ``AWS_SAM_STACK_NAME`` names a deployed stack (and real credentials are
available); otherwise every test here is skipped. The stack's endpoints come from
``tools.gen_env``, exactly as the CLIs get them:

    AWS_SAM_STACK_NAME=image-video-pipeline AWS_REGION=eu-west-1 pytest -m cloud tests/cloud

``AWS_SAM_PROFILE`` picks an AWS CLI profile. The suite logs in to the stack's user pool like the
CLIs: as ``PIPELINE_USERNAME``/``PIPELINE_PASSWORD`` when both are set, otherwise as a user it
creates for the session and deletes afterwards (that needs ``cognito-idp:Admin*`` on the pool).
The services must be running (deployed with a pushed ``ImageTag``); the first task of a scenario
may wait for a Fargate cold start, hence long timeouts.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

STACK_ENV = "AWS_SAM_STACK_NAME"
STACK_NAME = os.environ.get(STACK_ENV, "")
# tests/conftest.py installs fake credentials for moto; they would shadow the real ones.
_FAKE_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.cloud)
            if not STACK_NAME:
                item.add_marker(pytest.mark.skip(reason=f"{STACK_ENV} is not set"))


@pytest.fixture(scope="session")
def session() -> Any:
    import boto3

    for name in _FAKE_CREDENTIALS:
        if os.environ.get(name) == "testing":
            os.environ.pop(name)
    os.environ.pop("AWS_ENDPOINT_URL", None)  # the real AWS endpoints, never a local one
    return boto3.session.Session(profile_name=os.environ.get("AWS_SAM_PROFILE"))


@pytest.fixture(scope="session")
def outputs(session: Any) -> dict[str, str]:
    """The stack's env-file values (``REST_API_URL``, ``USER_POOL_ID``, bucket names, ...)."""
    from tools.gen_env import read_stack_env

    return read_stack_env(STACK_NAME, session).values


@pytest.fixture(scope="session")
def user(session: Any, outputs: dict[str, str]) -> Iterator[Any]:
    """A logged-in user of the stack (``tests.support.users.StackUser``)."""
    from tests.support.users import StackUser, create_and_log_in, log_in

    cognito = session.client("cognito-idp")
    pool_id, app_client_id = outputs["USER_POOL_ID"], outputs["USER_POOL_CLIENT_ID"]
    username, password = os.environ.get("PIPELINE_USERNAME"), os.environ.get("PIPELINE_PASSWORD")
    if username and password:
        tokens = log_in(cognito, app_client_id, username, password)
        sub = cognito.get_user(AccessToken=tokens["AccessToken"])["UserAttributes"]
        yield StackUser(
            username,
            password,
            next(a["Value"] for a in sub if a["Name"] == "sub"),
            tokens["IdToken"],
        )
        return
    from tools.users import delete_user

    created = create_and_log_in(
        cognito, pool_id, app_client_id, f"cloud-tests-{uuid.uuid4().hex[:8]}"
    )
    try:
        yield created
    finally:
        delete_user(cognito, pool_id, created.username)


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
def watcher(session: Any) -> Callable[[str], QueueWatcher]:
    sqs = session.client("sqs")
    return lambda queue_url: QueueWatcher(sqs, queue_url)


@pytest.fixture
def unique_prefix(request: pytest.FixtureRequest) -> str:
    """A fresh key prefix per test: the suite can run against a stack in use."""
    import uuid

    return f"cloud-tests/{request.node.name}/{uuid.uuid4().hex[:12]}"
