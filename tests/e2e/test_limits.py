"""Per-user limits on the local cloud (issue 10): over the client cap, the client-creation rate or
the job rate, the API answers 429 saying which limit, and nothing is half-created.

The limits are template parameters (defaults 20 live clients, 10 creations and 300 jobs a
minute); this module brings up its own stack with small ones so each is reached in a few calls.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from tests.e2e.conftest import RestApi
from tests.support.users import StackUser, create_and_log_in

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
# The cap is above the creation rate, so a test reaches the rate before the cap; the cap is reached
# with clients created earlier (rows written as the provisioner writes them, an hour old).
CAP, CREATIONS, JOBS = 3, 2, 3


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    cloud = LocalCloud(
        template_path=ROOT / "template.yaml",
        state_dir=tmp_path_factory.mktemp("limited-stack"),
        stack_name="limits",
        parameter_overrides={
            "MaxClientsPerUser": str(CAP),
            "MaxClientCreationsPerMinute": str(CREATIONS),
            "MaxJobsPerUserPerMinute": str(JOBS),
            # No ECS service runs (no image): the limits live in the functions alone.
            "ImageTag": "none",
        },
    )
    cloud.up()
    try:
        yield cloud
    finally:
        cloud.down()


@pytest.fixture(scope="module")
def api(limited: LocalCloud) -> RestApi:
    return RestApi(limited.outputs["RestApiUrl"])


@pytest.fixture
def user(limited: LocalCloud) -> StackUser:
    """A fresh user per test: the limits count per user."""
    return create_and_log_in(
        limited.client("cognito-idp"),
        limited.outputs["UserPoolId"],
        limited.outputs["UserPoolClientId"],
        f"limited-{uuid.uuid4().hex[:8]}",
    )


def _owned(stack: LocalCloud, table_output: str, user: StackUser) -> int:
    """How many rows of the table the user owns (its ``owner-index``)."""
    count: int = stack.client("dynamodb").query(
        TableName=stack.outputs[table_output],
        IndexName="owner-index",
        KeyConditionExpression="#o = :owner",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":owner": {"S": user.sub}},
        Select="COUNT",
    )["Count"]
    return count


def _live_clients(stack: LocalCloud, user: StackUser) -> int:
    """The user's clients that are not deleted (DELETE leaves a tombstone with ``deleted_at``)."""
    count: int = stack.client("dynamodb").query(
        TableName=stack.outputs["ClientsTableName"],
        IndexName="owner-index",
        KeyConditionExpression="#o = :owner",
        FilterExpression="attribute_not_exists(deleted_at)",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":owner": {"S": user.sub}},
        Select="COUNT",
    )["Count"]
    return count


def _tickets_of(stack: LocalCloud, user: StackUser) -> int:
    count: int = stack.client("dynamodb").scan(
        TableName=stack.outputs["TicketsTableName"],
        FilterExpression="#o = :owner",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":owner": {"S": user.sub}},
        Select="COUNT",
    )["Count"]
    return count


def _create(api: RestApi, user: StackUser, delivery: str = "poll") -> Any:
    return api("POST", "/clients", user=user, json={"delivery": delivery})


def _refusal(response: Any) -> str:
    assert response.status_code == 429, response.text
    message: str = response.json()["error"]["message"]
    return message


def _earlier_clients(stack: LocalCloud, user: StackUser, count: int) -> list[str]:
    """``count`` live push clients of ``user`` created an hour ago (outside the rate window)."""
    created = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="microseconds")
    ids = [uuid.uuid4().hex for _ in range(count)]
    for client_id in ids:
        stack.client("dynamodb").put_item(
            TableName=stack.outputs["ClientsTableName"],
            Item={
                "client_id": {"S": client_id},
                "owner": {"S": user.sub},
                "delivery": {"S": "push"},
                "created_at": {"S": created},
                "ttl": {"N": str(int(time.time()) + 86400)},
            },
        )
    return ids


def test_over_the_client_cap_is_429_and_creates_nothing(limited, api, user):
    # Given a user holding as many live clients as the cap allows
    _earlier_clients(limited, user, CAP)
    tickets = _tickets_of(limited, user)

    # When the user asks for one more
    response = _create(api, user)

    # Then 429 names the cap, and no client row or ticket was made for it
    message = _refusal(response)
    assert str(CAP) in message
    assert "client" in message.lower()
    assert _owned(limited, "ClientsTableName", user) == CAP
    assert _tickets_of(limited, user) == tickets


def test_a_deleted_client_frees_its_place_under_the_cap(limited, api, user):
    # Given a user at the cap
    earlier = _earlier_clients(limited, user, CAP)
    _refusal(_create(api, user, "push"))

    # When one client is deleted
    deleted = api("DELETE", f"/clients/{earlier[0]}", user=user)
    assert deleted.status_code == 204, deleted.text

    # Then the user may create another
    assert _create(api, user, "push").status_code == 201


def test_over_the_creation_rate_is_429_and_creates_nothing(limited, api, user):
    # Given a user who created as many clients this minute as the rate allows (under the cap)
    for _ in range(CREATIONS):
        response = _create(api, user)
        assert response.status_code == 201, response.text

    # When the user creates one more
    response = _create(api, user)

    # Then 429 names the rate, and nothing was made
    message = _refusal(response)
    assert str(CREATIONS) in message
    assert "minute" in message.lower() or "60 s" in message
    assert _owned(limited, "ClientsTableName", user) == CREATIONS


def test_deleting_clients_does_not_reset_the_creation_rate(limited, api, user):
    # Given a user who created and at once deleted as many clients this minute as the rate allows
    for _ in range(CREATIONS):
        response = _create(api, user)
        assert response.status_code == 201, response.text
        deleted = api("DELETE", f"/clients/{response.json()['client_id']}", user=user)
        assert deleted.status_code == 204, deleted.text

    # When the user creates one more
    response = _create(api, user)

    # Then it is refused: the rate counts creations, not the clients still alive;
    # the deleted ones stand only as tombstones, and nothing new was made
    _refusal(response)
    assert _owned(limited, "ClientsTableName", user) == CREATIONS
    assert _live_clients(limited, user) == 0


def test_over_the_job_rate_is_429_and_the_job_is_not_recorded(limited, api, user):
    # Given a user who submitted as many jobs this minute as the rate allows
    client = _create(api, user, "push").json()["client_id"]
    pacs = {"study_id": "study-1", "series_id": "series-1", "image_id": "image-1"}
    for _ in range(JOBS):
        body = {"client_id": client, "pacs": pacs, "job_id": uuid.uuid4().hex}
        accepted = api("POST", "/process/processing_1", user=user, json=body)
        assert accepted.status_code == 202, accepted.text

    # When the user submits one more
    refused_id = uuid.uuid4().hex
    body = {"client_id": client, "pacs": pacs, "job_id": refused_id}
    response = api("POST", "/process/processing_1", user=user, json=body)

    # Then 429 names the job rate, and the job exists nowhere
    message = _refusal(response)
    assert str(JOBS) in message
    assert "job" in message.lower()
    assert _owned(limited, "JobsTableName", user) == JOBS
    job = limited.client("dynamodb").get_item(
        TableName=limited.outputs["JobsTableName"], Key={"job_id": {"S": refused_id}}
    )
    assert "Item" not in job
