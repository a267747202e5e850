"""End-to-end tests: whole stacks on the embedded local cloud."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from tests.support.browser import build_console
from tests.support.stack import (  # noqa: F401 (fixtures shared with tests/reliability)
    QueueRecorder,
    RestApi,
    endpoints,
    image_results,
    new_user,
    pacs,
    rest,
    running,
    users,
)
from tests.support.stack_interface import (
    STACK_ENV,
    LocalStack,
    Stack,
    deployed_stack,
    deployed_stack_name,
)

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[2]
__all__ = ["MATRIX_KEY", "QueueRecorder", "RestApi"]

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


@pytest.fixture(scope="session")
def fixture_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    cloud = LocalCloud(
        template_path=FIXTURES / "localcloud" / "template.yaml",
        state_dir=tmp_path_factory.mktemp("fixture-cloud"),
        stack_name="fixture",
        iam=IAM,
    )
    with running(cloud, healthy=False):
        yield cloud


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
    with running(cloud):
        yield cloud


@pytest.fixture(
    scope="session",
    params=[pytest.param("local"), pytest.param("deployed", marks=pytest.mark.cloud)],
)
def any_stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The scenarios both tiers share run twice: on the session's local cloud, and on the
    deployed stack ``AWS_SAM_STACK_NAME`` names (``pytest -m cloud tests/e2e``), skipped when
    none is named. Only the variant a test runs starts its stack."""
    if request.param == "local":
        yield LocalStack(request.getfixturevalue("stack"))
        return
    name = deployed_stack_name()
    if not name:
        pytest.skip(f"{STACK_ENV} is not set: no deployed stack to run against")
    with deployed_stack(name) as deployed:
        yield deployed


@pytest.fixture(scope="session")
def any_pacs(any_stack: Stack) -> list[Any]:
    """``any_stack``'s PACS seeded with pydicom's real files (seeding again changes nothing)."""
    from pacs_api.seed import seed_pacs

    return seed_pacs(any_stack.outputs["PacsBucketName"], s3=any_stack.client("s3"))
