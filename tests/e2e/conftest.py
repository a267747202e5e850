"""End-to-end tests: whole stacks on the embedded local cloud."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from tests.support.browser import build_console

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[2]
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
def endpoints(stack: LocalCloud) -> Any:
    from clients.env import Endpoints

    return Endpoints(
        rest_api_url=stack.outputs["RestApiUrl"],
        websocket_url=stack.outputs["WebsocketUrl"],
        rest_api_key=stack.outputs["RestApiKey"],
    )
