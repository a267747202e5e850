"""The WebSocket client CLI end to end against local stand-ins for the REST and WebSocket APIs
(real HTTP and WebSocket servers on localhost): provision, connect, submit, receive, download."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.server import ServerConnection, serve

from clients import ws_client

OVERLAY = b"\x89PNG\r\n\x1a\n stand-in overlay bytes"
CLIENT_ID = "c" * 32


class StandIn:
    """What the API saw, and the job it was asked to run."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any, str | None]] = []
        self.submitted = threading.Event()
        self.job: dict[str, Any] = {}
        self.http_port = 0


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
            state.requests.append(("POST", self.path, body, self.headers.get("x-api-key")))
            if self.path == "/prod/clients":
                self._reply(
                    201,
                    {
                        "client_id": CLIENT_ID,
                        "token": "v1.4102444800.sig",
                        "token_expires_at": "2100-01-01T00:00:00Z",
                        "delivery": "push",
                    },
                )
            elif self.path == "/prod/process/processing_1":
                state.job = body
                state.submitted.set()
                self._reply(
                    202, {"job_id": body["job_id"], "algo_id": "processing_1", "status": "QUEUED"}
                )
            else:
                self._reply(404, {"error": {"code": "no_such_route", "message": "no"}})

        def do_GET(self) -> None:
            state.requests.append(("GET", self.path, None, self.headers.get("x-api-key")))
            if self.path.startswith("/files/overlay.png"):
                self._reply(200, None, raw=OVERLAY)
            else:
                self._reply(404, {"error": {"code": "no_such_route", "message": "no"}})

    http = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    state.http_port = http.server_address[1]

    def push(connection: ServerConnection) -> None:
        state.requests.append(("WS", connection.request.path, None, None))
        if not state.submitted.wait(timeout=10):
            return
        connection.send(
            json.dumps(
                {
                    "kind": "job.result",
                    "job_id": state.job["job_id"],
                    "client_id": CLIENT_ID,
                    "status": "DONE",
                    "overlay_url": f"http://127.0.0.1:{state.http_port}/files/overlay.png?X-Amz-Signature=s",
                }
            )
        )
        connection.recv()  # Until the client closes.

    ws = serve(push, "127.0.0.1", 0)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (http, ws)]
    for thread in threads:
        thread.start()
    state.ws_port = ws.socket.getsockname()[1]  # type: ignore[attr-defined]
    yield state
    http.shutdown()
    ws.shutdown()


def test_the_cli_submits_receives_and_downloads(stand_in: StandIn, tmp_path: Path, capsys):
    # Given an endpoints file for the stand-in APIs and an empty client cache
    env_file = tmp_path / ".env.local"
    env_file.write_text(
        f"REST_API_URL=http://127.0.0.1:{stand_in.http_port}/prod\n"
        f"WEBSOCKET_URL=ws://127.0.0.1:{stand_in.ws_port}/prod\n"
        "REST_API_KEY=local-key\n"
    )
    argv = [
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
        "--out",
        str(tmp_path / "out"),
        "--timeout",
        "30",
    ]

    # When the CLI runs
    status = ws_client.main(argv)

    # Then it provisioned, connected with its token, submitted, printed and downloaded the result
    assert status == ws_client.EXIT_DONE
    kinds = [(method, path.split("?")[0]) for method, path, _, _ in stand_in.requests]
    assert kinds[:3] == [
        ("POST", "/prod/clients"),
        ("WS", "/prod"),
        ("POST", "/prod/process/processing_1"),
    ]
    ws_path = next(path for method, path, _, _ in stand_in.requests if method == "WS")
    assert f"client_id={CLIENT_ID}" in ws_path
    api_calls = [r for r in stand_in.requests if r[0] == "POST"]
    assert {key for *_, key in api_calls} == {"local-key"}
    download = next(r for r in stand_in.requests if r[1].startswith("/files/"))
    assert download[3] is None  # Presigned URLs are fetched without the API key.
    printed = json.loads(capsys.readouterr().out)
    assert printed["job_id"] == stand_in.job["job_id"]
    assert (tmp_path / "out" / printed["job_id"] / "overlay.png").read_bytes() == OVERLAY

    # And a second run reuses the cached client instead of provisioning again
    stand_in.submitted.clear()
    assert ws_client.main(argv) == ws_client.EXIT_DONE
    assert [path for _, path, _, _ in stand_in.requests].count("/prod/clients") == 1
