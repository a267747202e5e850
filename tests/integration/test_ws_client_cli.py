"""The WebSocket client CLI end to end against local stand-ins for the REST and WebSocket APIs
(real HTTP and WebSocket servers on localhost) and a Cognito user pool in moto: log in, provision,
connect with a one-time ticket, submit, receive, download; reuse the client with a fresh ticket,
provision again when the cached client is gone, delete it on request."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from websockets.sync.server import ServerConnection, serve

from clients import ws_client
from tools.users import create_user

OVERLAY = b"\x89PNG\r\n\x1a\n stand-in overlay bytes"


class StandIn:
    """What the API saw, and the job it was asked to run."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any, str | None]] = []
        self.submitted = threading.Event()
        self.job: dict[str, Any] = {}
        self.http_port = 0
        self.clients: set[str] = set()
        self.tickets: dict[str, str] = {}  # unused ticket -> client
        self.minted = 0

    def mint(self, client_id: str) -> str:
        self.minted += 1
        ticket = f"ticket-{self.minted}"
        self.tickets[ticket] = client_id
        return ticket


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    state = StandIn()

    class Api(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: Any, raw: bytes | None = None) -> None:
            data = raw if raw is not None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            state.requests.append(("POST", self.path, body, self.headers.get("Authorization")))
            if self.path == "/prod/clients":
                client_id = f"{len(state.clients) + 1:032d}"
                state.clients.add(client_id)
                self._reply(
                    201,
                    {
                        "client_id": client_id,
                        "delivery": "push",
                        "ticket": state.mint(client_id),
                        "ticket_expires_at": "2100-01-01T00:00:00Z",
                    },
                )
            elif self.path.startswith("/prod/clients/") and self.path.endswith("/tickets"):
                client_id = self.path.split("/")[3]
                if client_id not in state.clients:
                    self._reply(404, {"error": {"code": "not_found", "message": "no client"}})
                    return
                self._reply(201, {"ticket": state.mint(client_id), "client_id": client_id})
            elif self.path == "/prod/process/processing_1":
                state.job = body
                state.submitted.set()
                self._reply(
                    202, {"job_id": body["job_id"], "algo_id": "processing_1", "status": "QUEUED"}
                )
            else:
                self._reply(404, {"error": {"code": "no_such_route", "message": "no"}})

        def do_DELETE(self) -> None:
            state.requests.append(("DELETE", self.path, None, self.headers.get("Authorization")))
            client_id = self.path.split("/")[-1]
            if client_id in state.clients:
                state.clients.discard(client_id)
                self._reply(204, None, raw=b"")
            else:
                self._reply(404, {"error": {"code": "not_found", "message": "no client"}})

        def do_GET(self) -> None:
            state.requests.append(("GET", self.path, None, self.headers.get("Authorization")))
            if self.path.startswith("/files/overlay.png"):
                self._reply(200, None, raw=OVERLAY)
            else:
                self._reply(404, {"error": {"code": "no_such_route", "message": "no"}})

    http = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    state.http_port = http.server_address[1]

    def record(connection: ServerConnection, request: Any) -> None:
        # During the handshake, before the client sees it accepted: recorded in the handler, a
        # thread the client does not wait for, the WS could land after the client's next POST.
        state.requests.append(("WS", request.path, None, None))

    def push(connection: ServerConnection) -> None:
        path = connection.request.path
        # One use per ticket, as the authorizer consumes it.
        if state.tickets.pop(path.partition("?ticket=")[2], None) is None:
            connection.close(code=1008)
            return
        if not state.submitted.wait(timeout=10):
            return
        connection.send(
            json.dumps(
                {
                    "kind": "job.result",
                    "job_id": state.job["job_id"],
                    "client_id": state.job["client_id"],
                    "status": "DONE",
                    "overlay_url": f"http://127.0.0.1:{state.http_port}/files/overlay.png?X-Amz-Signature=s",
                }
            )
        )
        connection.recv()  # Until the client closes.

    ws = serve(push, "127.0.0.1", 0, process_request=record)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (http, ws)]
    for thread in threads:
        thread.start()
    state.ws_port = ws.socket.getsockname()[1]  # type: ignore[attr-defined]
    yield state
    http.shutdown()
    ws.shutdown()


@pytest.fixture
def user_pool(mocked_aws: None, tmp_path: Path) -> dict[str, str]:
    """A user pool in moto with the demo user, as ``tools.users`` leaves it in the env file."""
    cognito = boto3.client("cognito-idp", region_name="us-east-1")
    pool_id = cognito.create_user_pool(PoolName="users")["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="cli",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    demo = create_user(cognito, pool_id, "demo")
    assert demo.password
    return {"pool_id": pool_id, "client_id": client_id, "password": demo.password}


def cli_args(stand_in: StandIn, user_pool: dict[str, str], tmp_path: Path) -> list[str]:
    env_file = tmp_path / ".env.local"
    env_file.write_text(
        f"REST_API_URL=http://127.0.0.1:{stand_in.http_port}/prod\n"
        f"WEBSOCKET_URL=ws://127.0.0.1:{stand_in.ws_port}/prod\n"
        f"USER_POOL_ID={user_pool['pool_id']}\nUSER_POOL_CLIENT_ID={user_pool['client_id']}\n"
        f"DEMO_USERNAME=demo\nDEMO_PASSWORD={user_pool['password']}\n"
    )
    return [
        "--algo",
        "processing_1",
        "--study",
        "s1",
        "--series",
        "r1",
        "--image",
        "i1",
        "--env-file",
        str(env_file),
        "--cache",
        str(tmp_path / "cache.json"),
        "--token-cache",
        str(tmp_path / "tokens.json"),
        "--out",
        str(tmp_path / "out"),
        "--timeout",
        "30",
    ]


def test_the_cli_logs_in_submits_receives_and_downloads(
    stand_in: StandIn, user_pool, tmp_path: Path, capsys
):
    # Given an endpoints file for the stand-in APIs with the demo user, and empty caches
    argv = cli_args(stand_in, user_pool, tmp_path)

    # When the CLI runs
    status = ws_client.main(argv)

    # Then it provisioned, connected with the ticket it got, submitted, printed and downloaded
    assert status == ws_client.EXIT_DONE
    kinds = [(method, path.split("?")[0]) for method, path, _, _ in stand_in.requests]
    assert kinds[:3] == [
        ("POST", "/prod/clients"),
        ("WS", "/prod"),
        ("POST", "/prod/process/processing_1"),
    ]
    ws_path = next(path for method, path, _, _ in stand_in.requests if method == "WS")
    assert ws_path == "/prod?ticket=ticket-1"
    api_calls = [r for r in stand_in.requests if r[0] == "POST"]
    (token,) = {token for *_, token in api_calls}
    assert token is not None
    assert token.count(".") == 2
    download = next(r for r in stand_in.requests if r[1].startswith("/files/"))
    assert download[3] is None  # Presigned URLs are fetched without the token.
    out = capsys.readouterr()
    printed = json.loads(out.out)
    assert printed["job_id"] == stand_in.job["job_id"]
    assert (tmp_path / "out" / printed["job_id"] / "overlay.png").read_bytes() == OVERLAY
    assert user_pool["password"] not in out.out + out.err

    # And a second run reuses the cached client with a fresh ticket instead of provisioning
    stand_in.submitted.clear()
    assert ws_client.main(argv) == ws_client.EXIT_DONE
    paths = [path for _, path, _, _ in stand_in.requests]
    assert paths.count("/prod/clients") == 1
    assert f"/prod/clients/{stand_in.job['client_id']}/tickets" in paths
    assert paths.count("/prod?ticket=ticket-2") == 1


def test_a_cached_client_that_is_gone_is_replaced_and_deleted_on_request(
    stand_in: StandIn, user_pool, tmp_path: Path
):
    # Given a cached client the API no longer knows (deleted, expired, or another user's)
    argv = cli_args(stand_in, user_pool, tmp_path)
    assert ws_client.main(argv) == ws_client.EXIT_DONE
    stand_in.clients.clear()
    stand_in.submitted.clear()

    # When the CLI runs again, asked to delete its client at the end
    assert ws_client.main([*argv, "--delete-client"]) == ws_client.EXIT_DONE

    # Then the ticket for the old client was refused, a new client provisioned and used, and
    # that client deleted afterwards (and forgotten)
    calls = [(method, path) for method, path, _, _ in stand_in.requests]
    assert calls.count(("POST", "/prod/clients")) == 2
    new_client = stand_in.job["client_id"]
    assert ("DELETE", f"/prod/clients/{new_client}") in calls
    assert stand_in.clients == set()
    assert json.loads((tmp_path / "cache.json").read_text()) == {}


def test_a_wrong_password_is_a_usage_error_that_does_not_echo_it(
    stand_in: StandIn, user_pool, tmp_path: Path, capsys
):
    argv = cli_args(stand_in, user_pool, tmp_path)

    status = ws_client.main([*argv, "--user", "demo", "--password", "Wrong-password-9!"])

    assert status == ws_client.EXIT_USAGE
    err = capsys.readouterr().err
    assert "login as demo refused" in err
    assert "Wrong-password-9!" not in err
    assert not [r for r in stand_in.requests if r[0] == "POST"]
