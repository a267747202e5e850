"""IAM is enforced: a permission missing from a role fails locally the way it fails on AWS.

A copy of template.yaml loses one statement, ResultPushFunction's
``execute-api:ManageConnections``; that copy is brought up, a result is queued for a client with
a live connection, and the push fails with ``AccessDeniedException`` until the message lands in
ResultsQueue's dead-letter queue. (The copy also shortens ResultsQueue's visibility timeout and
receive count, so the redrive takes seconds instead of five times three minutes.)
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from tests.support.stack import QueueRecorder, running, template_copy
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
EVENT = ROOT / "events" / "result_push_batch.json"


def without_statement(document: dict[str, Any], function: str, action: str) -> dict[str, Any]:
    """``document`` with the statement granting ``action`` removed from ``function``'s policies."""
    policies = document["Resources"][function]["Properties"]["Policies"]
    removed = 0
    for policy in policies:
        if isinstance(policy, dict) and "Statement" in policy:
            kept = [s for s in policy["Statement"] if s.get("Action") != action]
            removed += len(policy["Statement"]) - len(kept)
            policy["Statement"] = kept
    assert removed == 1, f"{function} has {removed} statements granting exactly {action}"
    return document


@pytest.fixture(scope="module")
def denied_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    # Given template.yaml without ResultPush's execute-api:ManageConnections
    def edit(document: dict[str, Any]) -> None:
        without_statement(document, "ResultPushFunction", "execute-api:ManageConnections")
        queue = document["Resources"]["ResultsQueue"]["Properties"]
        queue["VisibilityTimeout"] = 1
        queue["RedrivePolicy"]["maxReceiveCount"] = 2

    template = template_copy(tmp_path_factory.mktemp("iam-copy"), edit)
    cloud = LocalCloud(
        template_path=template,
        state_dir=tmp_path_factory.mktemp("iam-copy-state"),
        stack_name="iamdenied",
        parameter_overrides={"ImageTag": "none"},  # no ECS service needed here
    )
    with running(cloud, healthy=False):
        yield cloud


def test_a_removed_statement_denies_the_call_and_the_message_goes_to_the_dlq(
    denied_stack: LocalCloud,
):
    # Given a client with a live connection, as WsConnectFunction records it
    body = json.loads(json.loads(EVENT.read_text())["Records"][0]["body"])
    client_id = body["client_id"]
    denied_stack.client("dynamodb").put_item(
        TableName=denied_stack.outputs["ConnectionsTableName"],
        Item={
            "connection_id": {"S": "Zx1pQcnoIAMCFg="},
            "client_id": {"S": client_id},
            "connected_at": {"S": "2026-01-19T09:15:00+00:00"},
            "ttl": {"N": "4102444800"},
        },
    )
    dlq = QueueRecorder(denied_stack.client("sqs"), denied_stack.outputs["ResultsDLQUrl"])

    # When a result for that client reaches ResultsQueue
    denied_stack.client("sqs").send_message(
        QueueUrl=denied_stack.outputs["ResultsQueueUrl"],
        MessageBody=json.dumps(body),
        MessageGroupId=client_id,
        MessageDeduplicationId=uuid.uuid4().hex,
    )

    # Then the push is denied, as on AWS, and the message ends in the dead-letter queue
    dead = wait_for(
        lambda: dlq.matching(job_id=body["job_id"]), timeout=60, what="the result in ResultsDLQ"
    )
    assert dead[0]["client_id"] == client_id
    log = (denied_stack.state_dir / "logs" / "functions" / "ResultPushFunction.log").read_text()
    assert "AccessDeniedException" in log
    assert "execute-api:ManageConnections" in log


def test_the_roles_follow_the_template(denied_stack: LocalCloud):
    # Given the copy's ResultPush role and the untouched WsConnect role
    iam = denied_stack.client("iam")

    def actions(logical_id: str) -> set[str]:
        name = denied_stack.local_iam.role_arns[logical_id].rsplit("/", 1)[-1]
        found: set[str] = set()
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
            for statement in document["Statement"]:
                listed = statement["Action"]
                found |= {listed} if isinstance(listed, str) else set(listed)
        return found

    # When their policies are read back from IAM / Then they are the template's, SAM-expanded
    assert "execute-api:ManageConnections" not in actions("ResultPushFunction")
    assert "dynamodb:Query" in actions("ResultPushFunction")
    assert "dynamodb:PutItem" in actions("WsConnectFunction")
    assert "logs:CreateLogStream" in actions("WsConnectFunction")  # AWSLambdaBasicExecutionRole
