"""The local cloud runs a template's real wiring: notifications, queues, APIs, tasks, services."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import websockets.sync.client

from localcloud.cloud import REGION, LocalCloud
from tests.e2e.conftest import FIXTURES, QueueRecorder
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_object_put_reaches_function_through_its_notification(fixture_cloud, fixture_records):
    # Given the recorder function subscribed to ObjectCreated with prefix "incoming/"
    s3 = fixture_cloud.client("s3")
    bucket = fixture_cloud.outputs["UploadBucketName"]

    # When one object is put inside the prefix and one outside it
    s3.put_object(Bucket=bucket, Key="incoming/photo 1.jpg", Body=b"x")
    s3.put_object(Bucket=bucket, Key="elsewhere/photo 2.jpg", Body=b"x")

    # Then only the first reaches the function, as an S3 event with the URL-encoded key
    seen = wait_for(lambda: fixture_records.matching(kind="s3"), what="the S3 event")
    keys = [item["payload"]["key"] for item in seen]
    assert [k for k in keys if "photo+1" in k], keys
    assert not [k for k in keys if "photo+2" in k], keys
    assert seen[0]["payload"]["event"] == "ObjectCreated:Put"


def test_env_file_gives_boto3_its_region_and_stays_private(fixture_cloud, tmp_path):
    # Given the env file the local cloud writes for the CLIs and tests
    path = tmp_path / ".env.local"
    fixture_cloud.write_env_file(path)

    # When a shell sources it and a script makes a client with no region argument
    script = (
        "import boto3; sqs = boto3.client('sqs'); "
        "print(sqs.meta.region_name, len(sqs.list_queues().get('QueueUrls', [])))"
    )
    run = subprocess.run(
        ["bash", "-c", f'set -a; source "{path}"; set +a; "{sys.executable}" -c "{script}"'],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    # Then boto3 finds the region (no NoRegionError) and reaches the local cloud
    assert run.returncode == 0, run.stderr
    region, queues = run.stdout.split()
    assert region == REGION
    assert int(queues) > 0, run.stdout
    # and only the owner can read the file (it holds the administrator's keys)
    assert path.stat().st_mode & 0o777 == 0o600


def test_message_that_fails_three_times_lands_in_its_dlq(fixture_cloud, fixture_records):
    # Given a queue with maxReceiveCount 3 whose consumer reports "fail-*" bodies as failed items
    sqs = fixture_cloud.client("sqs")

    # When a failing and a good message are sent
    sqs.send_message(QueueUrl=fixture_cloud.outputs["WorkQueueUrl"], MessageBody="fail-once-more")
    sqs.send_message(QueueUrl=fixture_cloud.outputs["WorkQueueUrl"], MessageBody="good-1")

    # Then the good one is processed and the failing one ends in the DLQ after its 3 receives
    dlq = QueueRecorder(sqs, fixture_cloud.outputs["WorkDLQUrl"])
    dead = wait_for(
        lambda: [
            m
            for m in _bodies(sqs, fixture_cloud.outputs["WorkDLQUrl"], dlq)
            if m == "fail-once-more"
        ],
        timeout=60,
        what="the DLQ",
    )
    assert dead == ["fail-once-more"]
    assert fixture_records.matching(kind="sqs", payload={"body": "good-1", "count": "1"})


def _bodies(sqs, queue_url, _recorder):
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [m["Body"] for m in messages]


def test_fifo_queue_keeps_group_order_and_a_failure_holds_its_group(fixture_cloud, fixture_records):
    # Given a FIFO queue (maxReceiveCount 2) whose consumer fails "fail-*" and stops its group
    sqs = fixture_cloud.client("sqs")
    url = fixture_cloud.outputs["OrderedQueueUrl"]

    # When group A has a failing message between two good ones, and group B one good message
    for body, group in [("a1", "A"), ("fail-a2", "A"), ("a3", "A"), ("b1", "B")]:
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group)

    # Then b1 and a1 are processed, a2 goes to the DLQ, and only then a3 is processed
    def processed():
        return [
            i["payload"]["body"]
            for i in fixture_records.matching(kind="sqs")
            if i["payload"]["body"] in ("a1", "a3", "b1")
        ]

    order = wait_for(lambda: (p := processed()) and "a3" in p and p, timeout=60, what="a3")
    assert order.index("a1") < order.index("a3")
    assert "b1" in order
    dead = wait_for(
        lambda: sqs.receive_message(
            QueueUrl=fixture_cloud.outputs["OrderedDLQUrl"], MaxNumberOfMessages=10
        ).get("Messages", []),
        timeout=10,
        what="the FIFO DLQ",
    )
    assert [m["Body"] for m in dead] == ["fail-a2"]


def test_websocket_client_receives_what_a_function_posts_to_its_connection(fixture_cloud):
    # Given a WebSocket API whose $default route echoes through @connections
    url = fixture_cloud.outputs["SocketUrl"]

    # When a client sends a message
    with websockets.sync.client.connect(url) as socket:
        socket.send("ping-42")
        reply = socket.recv(timeout=30)

    # Then the function's post_to_connection reached this client
    assert reply == "echo:ping-42"


def test_rest_api_requires_its_key_and_proxies_the_request(fixture_cloud):
    # Given a REST API with ApiKeyRequired
    url = fixture_cloud.outputs["HttpApiUrl"] + "/echo/ada"
    key = fixture_cloud.outputs["HttpApiKey"]

    # When it is called without and with the key
    refused = requests.post(url, json={"n": 1}, timeout=30)
    accepted = requests.post(url, json={"n": 1}, headers={"x-api-key": key}, timeout=30)

    # Then the first is refused like API Gateway does, the second gets the function's response
    assert refused.status_code == 403
    assert accepted.status_code == 201
    body = accepted.json()
    assert body["name"] == "ada"
    assert body["body"] == {"n": 1}
    assert body["function"] == "fixture-HttpEchoFunction"
    assert 0 < body["remaining_ms"] <= 10_000


def _sign_in(cloud: LocalCloud, *, admin: bool = False) -> tuple[str, str]:
    """A new user of the fixture's pool, signed in: (sub, ID token)."""
    cognito = cloud.client("cognito-idp")
    pool = cloud.outputs["UserPoolId"]
    username, password = f"user-{secrets.token_hex(4)}", secrets.token_urlsafe(16) + "aA1!"
    cognito.admin_create_user(UserPoolId=pool, Username=username, MessageAction="SUPPRESS")
    cognito.admin_set_user_password(
        UserPoolId=pool, Username=username, Password=password, Permanent=True
    )
    if admin:
        cognito.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName="admins")
    sub = next(
        a["Value"]
        for a in cognito.admin_get_user(UserPoolId=pool, Username=username)["UserAttributes"]
        if a["Name"] == "sub"
    )
    tokens = cognito.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=cloud.outputs["UserPoolClientId"],
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )["AuthenticationResult"]
    return sub, tokens["IdToken"]


def test_cognito_authorizer_admits_a_signed_in_user_with_the_claims(fixture_cloud):
    # Given a REST API whose default authorizer is the fixture's user pool, and an admin's token
    base = fixture_cloud.outputs["AuthedApiUrl"]
    sub, token = _sign_in(fixture_cloud, admin=True)

    # When /whoami is called without a token, with a forged one, with the raw token and Bearer
    missing = requests.get(f"{base}/whoami", timeout=30)
    forged = requests.get(
        f"{base}/whoami", headers={"Authorization": token[:-4] + "AAAA"}, timeout=30
    )
    raw = requests.get(f"{base}/whoami", headers={"Authorization": token}, timeout=30)
    bearer = requests.get(
        f"{base}/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )

    # Then only the real token reaches the function, which sees the claims as API Gateway sends them
    assert (missing.status_code, missing.json()) == (401, {"message": "Unauthorized"})
    assert missing.headers["Access-Control-Allow-Origin"] == fixture_cloud.console_origin
    assert (forged.status_code, forged.json()) == (401, {"message": "Unauthorized"})
    assert raw.status_code == bearer.status_code == 200
    claims = raw.json()["authorizer"]["claims"]
    assert claims["sub"] == sub
    assert claims["cognito:groups"] == "admins"
    assert claims["token_use"] == "id"
    assert claims["aud"] == fixture_cloud.outputs["UserPoolClientId"]
    assert claims["iss"] == fixture_cloud.outputs["UserPoolIssuer"]


def test_open_route_and_cors_preflight_need_no_token(fixture_cloud):
    # Given an open route (Authorizer: NONE), and AddDefaultAuthorizerToCorsPreflight false
    base = fixture_cloud.outputs["AuthedApiUrl"]

    # When both are called without a token
    open_route = requests.get(f"{base}/open", timeout=30)
    preflight = requests.options(
        f"{base}/whoami",
        headers={"Origin": fixture_cloud.console_origin, "Access-Control-Request-Method": "GET"},
        timeout=30,
    )

    # Then both answer, and CORS names the local console (ConsoleOrigin was not overridden)
    assert open_route.status_code == 200
    assert open_route.json()["authorizer"] is None
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == fixture_cloud.console_origin
    assert fixture_cloud.resolver.parameters["ConsoleOrigin"] == fixture_cloud.console_origin


def test_http_api_jwt_route_reaches_the_internal_load_balancer_through_the_vpc_link(fixture_cloud):
    # Given an HTTP API ($default stage) whose JWT route proxies to the internal ALB's echo service
    fixture_cloud.wait_until_healthy(timeout=60)
    base = fixture_cloud.outputs["ServicesApiUrl"]
    assert fixture_cloud.outputs["ServicesEchoUrl"] == base + "/echo"
    assert base.startswith("http://127.0.0.1:")
    _, token = _sign_in(fixture_cloud)
    origin = fixture_cloud.console_origin

    # When it is called without a token, and with the token as a Bearer from the console's origin
    refused = requests.get(f"{base}/echo/a", timeout=30)
    answer = requests.post(
        f"{base}/echo/studies/1.2.3?limit=5",
        data=b"payload",
        headers={"Authorization": f"Bearer {token}", "Origin": origin},
        timeout=30,
    )
    other_origin = requests.get(
        f"{base}/echo/a",
        headers={"Authorization": f"Bearer {token}", "Origin": "https://evil.example"},
        timeout=30,
    )

    # Then the gateway refuses the first; the second reaches the service with path, query, body
    # and Authorization unchanged; CORS headers are the API's, for the allowed origin only
    assert (refused.status_code, refused.json()) == (401, {"message": "Unauthorized"})
    assert answer.status_code == 200, answer.text
    echoed = answer.json()
    assert echoed["method"] == "POST"
    assert echoed["path"] == "/echo/studies/1.2.3?limit=5"
    assert echoed["body"] == "payload"
    assert echoed["headers"]["authorization"] == f"Bearer {token}"
    assert answer.headers["Access-Control-Allow-Origin"] == origin
    assert other_origin.status_code == 200
    assert "Access-Control-Allow-Origin" not in other_origin.headers


@pytest.mark.parametrize(("exit_code", "status"), [("0", "SUCCEEDED"), ("3", "FAILED")])
def test_run_task_sync_runs_the_container_and_reports_its_exit_code(
    fixture_cloud, fixture_records, exit_code, status
):
    # Given a state machine that runs the worker container with ecs:runTask.sync
    sfn = fixture_cloud.client("stepfunctions")

    # When an execution passes the exit code the container should end with
    execution = sfn.start_execution(
        stateMachineArn=fixture_cloud.outputs["RunWorkerStateMachineArn"],
        name=f"exit-{exit_code}",
        input=json.dumps({"exit_code": exit_code}),
    )["executionArn"]

    # Then the container ran with the override, and the execution ends as ECS reports it
    described = wait_for(
        lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
        timeout=60,
        what="the execution",
    )
    assert described["status"] == status
    if status == "FAILED":
        assert described["error"] == "States.TaskFailed"
        assert json.loads(described["cause"])["Containers"][0]["ExitCode"] == int(exit_code)
    assert fixture_records.matching(kind="task", payload={"exit_code": exit_code})


def test_service_keeps_its_desired_count_of_tasks_running(fixture_cloud, fixture_records):
    # Given the worker service with DesiredCount 1
    assert fixture_cloud.services is not None

    # Then its task started (it records a null exit code) and is still running
    assert wait_for(lambda: fixture_records.matching(kind="task", payload={"exit_code": None}))
    instances = next(iter(fixture_cloud.services.instances.values()))
    assert len(instances) == 1
    assert instances[0].process.popen.poll() is None


def test_unsupported_resource_type_is_named_at_start_up(tmp_path):
    # Given a template with a resource type the local cloud does not emulate
    source = (FIXTURES / "localcloud" / "template.yaml").read_text()
    broken = tmp_path / "template.yaml"
    broken.write_text(
        source.replace(
            "Resources:\n",
            "Resources:\n  Consumer:\n    Type: AWS::Kinesis::StreamConsumer\n"
            "    Properties:\n      ConsumerName: c\n      StreamARN: arn\n",
            1,
        )
    )
    cloud = LocalCloud(template_path=broken, state_dir=tmp_path / "state")

    # When it starts, Then it refuses, naming the resource and its type
    try:
        with pytest.raises(Exception, match=r"Consumer \(AWS::Kinesis::StreamConsumer\)"):
            cloud.up()
    finally:
        cloud.down()


def test_invoke_cli_runs_one_function_with_an_event_file(tmp_path):
    # Given an API Gateway event file
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pathParameters": {"name": "cli"}, "body": json.dumps({"x": 1})}))

    # When the Docker-free invoke runs it
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "localcloud",
            "invoke",
            "HttpEchoFunction",
            "-e",
            str(event),
            "--template",
            str(FIXTURES / "localcloud" / "template.yaml"),
            "--state-dir",
            str(tmp_path / "s"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # Then it prints the handler's response
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout[result.stdout.index("{") :])
    assert response["statusCode"] == 201
    assert json.loads(response["body"])["name"] == "cli"


def test_down_stops_every_process_it_started(tmp_path):
    # Given a local cloud with a running service and a warm function
    cloud = LocalCloud(
        template_path=FIXTURES / "localcloud" / "template.yaml",
        state_dir=tmp_path / "state",
        stack_name="teardown",
    )
    cloud.up()
    try:
        cloud.invoke("HttpEchoFunction", {"pathParameters": {"name": "x"}, "body": "{}"})
        assert cloud.services is not None
        wait_for(lambda: all(cloud.services.instances.values()), what="the service task")
        pids = [i.process.popen.pid for group in cloud.services.instances.values() for i in group]
        pids += [w.process.pid for pool in cloud.runtime._pools.values() for w in pool._idle]
    finally:
        # When it is taken down
        cloud.down()

    # Then none of its processes is left
    assert pids
    for pid in pids:
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )
