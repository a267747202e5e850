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

import os
from collections.abc import Callable, Iterator

import pytest

from tests.support.stack_interface import (
    STACK_ENV,
    DeployedStack,
    QueueWatcher,
    deployed_stack,
    deployed_stack_name,
)
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
    with deployed_stack(STACK_NAME) as stack:
        yield stack


@pytest.fixture(scope="session")
def user(deployed: DeployedStack) -> StackUser:
    """A logged-in user of the stack: ``PIPELINE_USERNAME`` if given, else one made for the
    session."""
    return deployed.given_user() or deployed.new_user("user")


@pytest.fixture(scope="session")
def watcher(deployed: DeployedStack) -> Callable[[str], QueueWatcher]:
    sqs = deployed.client("sqs")
    return lambda queue_url: QueueWatcher(sqs, queue_url)


@pytest.fixture
def unique_prefix(request: pytest.FixtureRequest) -> str:
    """A fresh key prefix per test: the suite can run against a stack in use."""
    import uuid

    return f"cloud-tests/{request.node.name}/{uuid.uuid4().hex[:12]}"
