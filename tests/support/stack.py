"""A running stack as the tests see it: its REST API, the messages its queues carry, and copies
of template.yaml with a few settings changed (shorter timeouts, a removed statement).

Shared by the e2e tier (``tests/e2e``) and the reliability tier (``tests/reliability``).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from localcloud.cloud import LocalCloud
from localcloud.template import load_yaml
from tests.support.users import StackUser, Users, create_and_log_in, stack_users

ROOT = Path(__file__).resolve().parents[2]
# What a template copy is made of; each stays where the template names it (CodeUri, containers/),
# and samconfig.toml gives the copy the local parameters the original gets.
_LINKED = ("functions", "layers", "containers", "statemachines", "web", "samconfig.toml")


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

    def received(self, wanted: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        """Every message so far that ``wanted`` accepts."""
        return [i for i in self.drain() if wanted(i)]


# A recorder drains its queue: two on one queue would take each other's messages. Keyed by the
# cloud's identity (LocalCloud is a dataclass, so not hashable), which the entry keeps alive.
_RECORDERS: dict[int, tuple[LocalCloud, dict[str, QueueRecorder]]] = {}


def queue_recorder(cloud: LocalCloud, output: str) -> QueueRecorder:
    """The one recorder of the queue whose URL is ``cloud``'s output ``output``."""
    _, recorders = _RECORDERS.setdefault(id(cloud), (cloud, {}))
    url = cloud.outputs[output]
    if url not in recorders:
        recorders[url] = QueueRecorder(cloud.client("sqs"), url)
    return recorders[url]


class RestApi:
    """The stack's REST API as one user calls it (``Authorization: <IdToken>``), or as nobody."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def __call__(
        self, method: str, path: str, *, user: StackUser | None, **kwargs: Any
    ) -> requests.Response:
        headers = {**(user.rest_headers if user else {}), **kwargs.pop("headers", {})}
        return requests.request(method, self.base_url + path, headers=headers, timeout=40, **kwargs)


def template_copy(folder: Path, edit: Callable[[dict[str, Any]], Any]) -> Path:
    """``template.yaml`` changed by ``edit`` (it changes the document in place), written to
    ``folder`` next to links to the code folders (every CodeUri and container resolves) and
    to samconfig.toml."""
    for name in _LINKED:
        (folder / name).symlink_to(ROOT / name, target_is_directory=(ROOT / name).is_dir())
    document = load_yaml(ROOT / "template.yaml")
    edit(document)
    template = folder / "template.yaml"
    template.write_text(json.dumps(document))  # JSON is YAML, with the intrinsics in long form
    return template


def s3_notification(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    """The ``ObjectCreated:Put`` notification S3 sends a function for the object as it is now
    (S3 delivers at least once: a test sends it again to see a redelivery)."""
    head = s3.head_object(Bucket=bucket, Key=key)
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {
                        "key": key,
                        "size": head["ContentLength"],
                        "eTag": head["ETag"].strip('"'),
                        "versionId": head.get("VersionId"),
                    },
                },
            }
        ]
    }


@contextmanager
def running(cloud: LocalCloud, *, healthy: bool = True) -> Iterator[LocalCloud]:
    """``cloud`` up (and its services healthy) for the duration of the block."""
    cloud.up()
    try:
        if healthy:
            cloud.wait_until_healthy()
        yield cloud
    finally:
        cloud.down()


# ---- fixtures over the tier's own ``stack`` fixture (each tier's conftest imports them) -----


@pytest.fixture(scope="session")
def image_results(stack: LocalCloud) -> QueueRecorder:
    """Every message of ImageProcessingQueue during the session."""
    return queue_recorder(stack, "ImageProcessingQueueUrl")


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
