"""The reliability tier: faults injected into the whole pipeline on the local cloud, and bad
inputs at every entry point; nothing lost, nothing delivered twice, every failure ends.

One stack for the whole tier: a copy of template.yaml with the clocks that make a fault last
minutes on AWS shortened to seconds (the change is the only difference, each named below), so
every test is bounded in time:

- the algorithm request queues' visibility timeout (and the workers' heartbeat, which extends
  it): 120 s -> ``REQUEST_VISIBILITY_SECONDS``; a killed worker's job is redelivered after it;
- ResultsQueue's visibility timeout: 180 s -> 10 s (a failed push is retried sooner);
- the YOLO service's shard lease: 60 s -> ``YOLO_LEASE_SECONDS`` (a killed task's shard is taken
  over after it);
- one Kinesis shard (every record on one shard: a stalled shard would stall every video);
- per-user limits raised (the tier's users create more clients and jobs than one person would).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from tests.support.stack import (  # noqa: F401 (fixtures shared with tests/e2e)
    QueueRecorder,
    image_results,
    new_user,
    pacs,
    rest,
    running,
    template_copy,
)
from tests.support.users import StackUser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
REQUEST_VISIBILITY_SECONDS = 10
YOLO_LEASE_SECONDS = 6
RESULTS_VISIBILITY_SECONDS = 10
ALGORITHMS = ("Processing1", "Processing2", "Processing3")
# Far above what the tier sends: tests/e2e/test_limits.py is where the limits are checked.
PARAMETERS = {
    "VideoStreamShardCount": "1",
    "MaxClientsPerUser": "1000",
    "MaxClientCreationsPerMinute": "1000",
    "MaxJobsPerUserPerMinute": "100000",
}
IAM = os.environ.get("LOCALCLOUD_IAM", "on") != "off"
BAD_INPUTS_KEY = pytest.StashKey[str]()


def set_container_env(
    document: dict[str, Any], task_definition: str, name: str, value: str
) -> None:
    container = document["Resources"][task_definition]["Properties"]["ContainerDefinitions"][0]
    [entry] = [e for e in container["Environment"] if e["Name"] == name]
    entry["Value"] = value


def shorten_clocks(document: dict[str, Any]) -> None:
    resources = document["Resources"]
    for algo in ALGORITHMS:
        resources[f"{algo}RequestQueue"]["Properties"]["VisibilityTimeout"] = (
            REQUEST_VISIBILITY_SECONDS
        )
        set_container_env(
            document,
            f"{algo}TaskDefinition",
            "VISIBILITY_TIMEOUT_SECONDS",
            str(REQUEST_VISIBILITY_SECONDS),
        )
    resources["ResultsQueue"]["Properties"]["VisibilityTimeout"] = RESULTS_VISIBILITY_SECONDS
    set_container_env(
        document, "YoloStreamTaskDefinition", "LEASE_SECONDS", str(YOLO_LEASE_SECONDS)
    )


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    table = config.stash.get(BAD_INPUTS_KEY, None)
    if table:
        terminalreporter.write_sep("=", "bad inputs (test-artifacts/bad-inputs.md)")
        terminalreporter.write(table)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    """template.yaml with shortened clocks, up once for the tier (``samconfig.toml``'s local
    parameters, plus ``PARAMETERS``)."""
    template = template_copy(tmp_path_factory.mktemp("reliability-template"), shorten_clocks)
    cloud = LocalCloud(
        template_path=template,
        state_dir=tmp_path_factory.mktemp("reliability"),
        stack_name="rel",
        parameter_overrides=PARAMETERS,
        iam=IAM,
    )
    with running(cloud):
        yield cloud


@pytest.fixture(scope="session")
def user(new_user: Callable[..., StackUser]) -> StackUser:  # noqa: F811
    """The tier's own user (its clients and jobs)."""
    return new_user("reliability")


@pytest.fixture(scope="session")
def video_results(stack: LocalCloud) -> QueueRecorder:
    return QueueRecorder(stack.client("sqs"), stack.outputs["VideoProcessingQueueUrl"])
