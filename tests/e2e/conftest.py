"""End-to-end tests: whole stacks on the embedded local cloud."""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from localcloud.cloud import LocalCloud
from tests.support.browser import build_console
from tests.support.users import StackUser, Users, create_and_log_in, stack_users

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[2]
# The authorization matrix (test_authorization.py), printed in the terminal summary.
MATRIX_KEY = pytest.StashKey[str]()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    table = config.stash.get(MATRIX_KEY, None)
    if table:
        terminalreporter.write_sep(
            "=", "authorization matrix (test-artifacts/authorization-matrix.md)"
        )
        terminalreporter.write(table)


# IAM is enforced in the e2e suite; LOCALCLOUD_IAM=off runs it permissive (to compare timings).
IAM = os.environ.get("LOCALCLOUD_IAM", "on") != "off"


class QueueRecorder:
    """Collects the JSON messages that arrive on a queue (drained on demand)."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.items: list[dict[str, Any]] = []

    def drain(self) -> list[dict[str, Any]]:
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                return self.items
            for message in messages:
                self.items.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )

    def matching(self, **fields: Any) -> list[dict[str, Any]]:
        self.drain()
        return [i for i in self.items if all(i.get(k) == v for k, v in fields.items())]


class RestApi:
    """The stack's REST API as one user calls it (``Authorization: <IdToken>``), or as nobody."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def __call__(
        self, method: str, path: str, *, user: StackUser | None, **kwargs: Any
    ) -> requests.Response:
        headers = {**(user.rest_headers if user else {}), **kwargs.pop("headers", {})}
        return requests.request(method, self.base_url + path, headers=headers, timeout=40, **kwargs)


@pytest.fixture(scope="session")
def fixture_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    cloud = LocalCloud(
        template_path=FIXTURES / "localcloud" / "template.yaml",
        state_dir=tmp_path_factory.mktemp("fixture-cloud"),
        stack_name="fixture",
        iam=IAM,
    )
    cloud.up()
    try:
        yield cloud
    finally:
        cloud.down()


@pytest.fixture(scope="session")
def fixture_records(fixture_cloud: LocalCloud) -> QueueRecorder:
    return QueueRecorder(fixture_cloud.client("sqs"), fixture_cloud.outputs["RecordQueueUrl"])


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    """The project's own template.yaml (parameters from samconfig.toml's ``local`` environment),
    up once for the whole e2e session, with the web console built and served."""
    if shutil.which("node"):
        build_console()
    cloud = LocalCloud(
        template_path=ROOT / "template.yaml",
        state_dir=tmp_path_factory.mktemp("stack"),
        stack_name="e2e",
        iam=IAM,
    )
    cloud.up()
    try:
        cloud.wait_until_healthy()
        yield cloud
    finally:
        cloud.down()


@pytest.fixture(scope="session")
def image_results(stack: LocalCloud) -> QueueRecorder:
    """Every message of ImageProcessingQueue during the session."""
    return QueueRecorder(stack.client("sqs"), stack.outputs["ImageProcessingQueueUrl"])


@pytest.fixture(scope="session")
def pacs(stack: LocalCloud) -> list[Any]:
    """The PACS seeded with pydicom's real files, plus the broken samples."""
    from pacs_api.seed import seed_pacs

    return seed_pacs(stack.outputs["PacsBucketName"], with_broken=True, s3=stack.client("s3"))


@pytest.fixture(scope="session")
def users(stack: LocalCloud) -> Users:
    """Alice and Bob (ordinary users) and an admin (group ``admins``), logged in to the stack's
    user pool; each has ``username``, ``password``, ``sub`` and ``id_token``."""
    return stack_users(stack.client, stack.outputs, suffix="")


@pytest.fixture(scope="session")
def new_user(stack: LocalCloud) -> Callable[..., StackUser]:
    """Makes a further logged-in user (``new_user("carol", admin=False)``): a module whose
    clients and jobs must not count against another module's per-user limits takes its own."""
    cognito = stack.client("cognito-idp")
    made = itertools.count(1)

    def make(name: str, *, admin: bool = False) -> StackUser:
        return create_and_log_in(
            cognito,
            stack.outputs["UserPoolId"],
            stack.outputs["UserPoolClientId"],
            f"{name}-{next(made)}",
            admin=admin,
        )

    return make


@pytest.fixture(scope="session")
def rest(stack: LocalCloud) -> RestApi:
    return RestApi(stack.outputs["RestApiUrl"])


@pytest.fixture(scope="session")
def endpoints(stack: LocalCloud) -> Any:
    """What a CLI reads from ``.env.local``: no credential (callers log in)."""
    from clients.env import Endpoints

    return Endpoints(
        rest_api_url=stack.outputs["RestApiUrl"],
        websocket_url=stack.outputs["WebsocketUrl"],
        user_pool_id=stack.outputs["UserPoolId"],
        user_pool_client_id=stack.outputs["UserPoolClientId"],
        services_api_url=stack.outputs.get("ServicesApiUrl"),
        pacs_api_url=stack.outputs.get("PacsApiUrl"),
        aws_endpoint_url=stack.endpoint,
    )
