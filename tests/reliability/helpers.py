"""What the fault tests share: a push client that records every message its socket receives,
jobs submitted through the REST API, and their final states."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

from websockets.sync.client import connect

from clients.ws_client import websocket_url
from localcloud.cloud import LocalCloud
from tests.support.stack import RestApi
from tests.support.users import StackUser
from tests.support.waiting import wait_for


class PushClient:
    """A push client (``POST /clients``) connected with its ticket; every pushed result is
    recorded in arrival order, so a duplicate shows as a second entry."""

    def __init__(self, stack: LocalCloud, rest: RestApi, user: StackUser) -> None:
        self.rest, self.user = rest, user
        response = rest("POST", "/clients", user=user, json={"delivery": "push"})
        assert response.status_code == 201, response.text
        self.client_id: str = response.json()["client_id"]
        self.pushed: list[dict[str, Any]] = []
        self._socket = connect(
            websocket_url(stack.outputs["WebsocketUrl"], response.json()["ticket"]),
            open_timeout=30,
        )
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        try:
            for message in self._socket:
                result = json.loads(message)
                if result.get("job_id"):
                    self.pushed.append(result)
        except Exception:  # closed: the test has what arrived
            return

    def close(self) -> None:
        self._socket.close()

    def submit(self, algo: str, pacs: dict[str, str]) -> str:
        body = {"client_id": self.client_id, "pacs": pacs}
        response = self.rest("POST", f"/process/{algo}", user=self.user, json=body)
        assert response.status_code == 202, response.text
        return str(response.json()["job_id"])

    def counts(self) -> Counter[str]:
        return Counter(r["job_id"] for r in self.pushed)

    def wait_for_pushes(self, job_ids: list[str], timeout: float = 90) -> None:
        wait_for(
            lambda: set(job_ids) <= set(self.counts()),
            timeout=timeout,
            what=f"pushes of {sorted(set(job_ids) - set(self.counts()))}",
        )

    def assert_each_once(self, job_ids: list[str], settle: float = 2.0) -> None:
        """Every job pushed exactly once, and nothing else (a late duplicate gets ``settle``)."""
        self.wait_for_pushes(job_ids)
        time.sleep(settle)
        assert self.counts() == Counter(job_ids), self.counts()


def instance(pacs: list[Any], source: str) -> dict[str, str]:
    item = next(o for o in pacs if o.source == source)
    return {"study_id": item.study_id, "series_id": item.series_id, "image_id": item.instance_id}


def job_item(stack: LocalCloud, job_id: str) -> dict[str, Any]:
    item: dict[str, Any] = (
        stack.client("dynamodb")
        .get_item(
            TableName=stack.outputs["JobsTableName"],
            Key={"job_id": {"S": job_id}},
            ConsistentRead=True,
        )
        .get("Item", {})
    )
    return item


def wait_status(
    stack: LocalCloud, job_id: str, *statuses: str, timeout: float = 90
) -> dict[str, Any]:
    def reached() -> dict[str, Any]:
        item = job_item(stack, job_id)
        return item if item.get("status", {}).get("S") in statuses else {}

    return wait_for(reached, timeout=timeout, interval=0.05, what=f"{job_id} {statuses}")


def final_job(rest: RestApi, user: StackUser, job_id: str, timeout: float = 90) -> dict[str, Any]:
    """``GET /jobs/{id}`` once the job is DONE or FAILED."""

    def final() -> dict[str, Any]:
        body: dict[str, Any] = rest("GET", f"/jobs/{job_id}", user=user).json()
        return body if body.get("status") in ("DONE", "FAILED") else {}

    return wait_for(final, timeout=timeout, what=f"job {job_id} to end")


def queue_messages(stack: LocalCloud, output: str) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.outputs[output],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in attributes.values())
