"""The local cloud's IAM pieces on their own: sessions renewed before expiry, the ECS credentials
endpoint, and the policy check of the local @connections API."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ContainerProvider, Credentials
from moto import mock_aws

from localcloud.credentials import CredentialsServer, FunctionCredentials
from localcloud.iam import AccessDenied, AccessKey, LocalIam, RoleSessions, authorize
from localcloud.runtime import FunctionRuntime, FunctionSpec

ACCOUNT = "123456789012"
RESOURCE = f"arn:aws:execute-api:us-east-1:{ACCOUNT}:abc123/prod/POST/@connections/conn1"


class FakeSts:
    def __init__(self, clock: list[float]) -> None:
        self.clock = clock
        self.calls = 0

    def __call__(self, role_arn: str, session: str, duration: int) -> AccessKey:
        self.calls += 1
        return AccessKey(
            f"ASIA{self.calls}", "secret", f"token{self.calls}", self.clock[0] + duration
        )


def test_sessions_are_reused_until_close_to_expiry_then_renewed():
    # Given one-hour sessions renewed when less than 20 minutes remain
    clock = [1000.0]
    sts = FakeSts(clock)
    sessions = RoleSessions(sts, duration=3600, margin=1200, clock=lambda: clock[0])

    # When the same role is asked for now, 30 minutes later and 45 minutes later
    first = sessions.get("arn:aws:iam::1:role/r")
    clock[0] += 1800
    again = sessions.get("arn:aws:iam::1:role/r")
    clock[0] += 900
    renewed = sessions.get("arn:aws:iam::1:role/r")

    # Then the first two are one session, the third a new one
    assert first == again
    assert renewed != first
    assert sts.calls == 2


def test_a_function_environment_is_retired_before_its_keys_expire():
    # Given a function's credentials from one-hour sessions
    clock = [0.0]
    sessions = RoleSessions(FakeSts(clock), duration=3600, clock=lambda: clock[0])

    # When a new execution environment asks for them
    env, retire_at = FunctionCredentials(sessions, "arn:aws:iam::1:role/f", "fn")()

    # Then it gets the SDK's variables and is retired five minutes before expiry
    assert set(env) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    assert retire_at == 3600 - 300


@pytest.fixture
def endpoint() -> Iterator[CredentialsServer]:
    clock = [time.time()]
    server = CredentialsServer(RoleSessions(FakeSts(clock), clock=lambda: clock[0]))
    yield server
    server.stop()


def test_the_container_credentials_endpoint_serves_the_sdk(endpoint: CredentialsServer):
    # Given a task's environment for its role
    env = endpoint.environment("arn:aws:iam::1:role/task")

    # When botocore's container provider (what a task's SDK uses) loads from it
    provider = ContainerProvider(environ=env)
    credentials = provider.load()

    # Then it gets the role's temporary keys, refreshable
    frozen = credentials.get_frozen_credentials()
    assert frozen.access_key.startswith("ASIA")
    assert frozen.token.startswith("token")


def test_the_container_credentials_endpoint_wants_the_task_token(endpoint: CredentialsServer):
    # Given a task's endpoint
    url = endpoint.environment("arn:aws:iam::1:role/task")["AWS_CONTAINER_CREDENTIALS_FULL_URI"]

    # When it is asked with another token / Then it refuses
    request = urllib.request.Request(url, headers={"Authorization": "guess"})  # noqa: S310
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)  # noqa: S310 (loopback)
    assert refused.value.code == 401
    assert json.loads(refused.value.read())["code"] == "Unauthorized"


def _signed(key: AccessKey, body: bytes = b"hello") -> dict[str, str]:
    request = AWSRequest(method="POST", url="http://127.0.0.1:9/prod/@connections/conn1", data=body)
    credentials = Credentials(key.access_key_id, key.secret_access_key, key.session_token)
    SigV4Auth(credentials, "execute-api", "us-east-1").add_auth(request)
    return {"Host": "127.0.0.1:9", **dict(request.headers.items())}  # as the server sees it


def _check(key: AccessKey, body: bytes = b"hello") -> None:
    authorize(
        account_id=ACCOUNT,
        method="POST",
        path="/prod/@connections/conn1",
        headers=_signed(key, body),
        body=body,
        resource=RESOURCE,
        action="execute-api:ManageConnections",
    )


@mock_aws
def test_manage_connections_is_allowed_by_the_role_and_denied_without_it():
    # Given a role allowed to post to this API's connections, and one that is not
    iam = LocalIam(account_id=ACCOUNT, region="us-east-1", stack_name="unit")
    backend = iam._iam
    trust = json.dumps({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]})
    allowed = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "execute-api:ManageConnections",
                "Resource": RESOURCE.rsplit("/", 1)[0] + "/*",
            }
        ],
    }
    for name, policy in (("pusher", allowed), ("other", None)):
        backend.create_role(name, trust, "/", None, "", [], None)
        if policy:
            backend.put_role_policy(name, "push", json.dumps(policy))
    pusher = iam.assume_role(f"arn:aws:iam::{ACCOUNT}:role/pusher", "s")
    other = iam.assume_role(f"arn:aws:iam::{ACCOUNT}:role/other", "s")

    # When each posts to a connection / Then the role decides
    _check(pusher)
    with pytest.raises(AccessDenied) as denied:
        _check(other)
    assert denied.value.code == "AccessDeniedException"
    assert "execute-api:ManageConnections" in denied.value.message


@mock_aws
def test_manage_connections_refuses_a_tampered_request():
    # Given the administrator's keys
    iam = LocalIam(account_id=ACCOUNT, region="us-east-1", stack_name="unit")
    admin = iam.create_admin()

    # When the body differs from what was signed / Then the signature does not match
    headers = _signed(admin, b"signed")
    with pytest.raises(AccessDenied) as denied:
        authorize(
            account_id=ACCOUNT,
            method="POST",
            path="/prod/@connections/conn1",
            headers=headers,
            body=b"tampered",
            resource=RESOURCE,
            action="execute-api:ManageConnections",
        )
    assert denied.value.code == "InvalidSignatureException"


def test_a_lambda_environment_is_replaced_when_its_keys_are_due(tmp_path):
    # Given a function whose first environment's keys are already due for renewal
    (tmp_path / "app.py").write_text(
        "import os\ndef handler(event, context):\n    return os.environ['AWS_ACCESS_KEY_ID']\n"
    )
    issued = []

    def credentials() -> tuple[dict[str, str], float]:
        issued.append(f"ASIA{len(issued)}")
        retire_at = 0.0 if len(issued) == 1 else float("inf")
        return {"AWS_ACCESS_KEY_ID": issued[-1], "AWS_SECRET_ACCESS_KEY": "s"}, retire_at

    runtime = FunctionRuntime(None)
    runtime.register(
        FunctionSpec(
            logical_id="Fn",
            function_name="fn",
            handler="app.handler",
            code_dir=tmp_path,
            layer_dirs=(),
            environment={"PATH": "/usr/bin:/bin"},
            timeout_seconds=30,
            credentials=credentials,
        )
    )
    try:
        # When it is invoked twice
        first = runtime.invoke("Fn", {})
        second = runtime.invoke("Fn", {})
    finally:
        runtime.close()

    # Then the second invocation ran in a new environment with fresh keys
    assert (first, second) == ("ASIA0", "ASIA1")
