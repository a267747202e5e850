"""Temporary credentials for the processes the local cloud starts, handed over as AWS does.

- Lambda: the execution role's keys are in the function's environment
  (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``); Lambda retires an
  execution environment before they expire, and so does ``runtime.FunctionPool``
  (``FunctionCredentials.expires_at``).
- ECS: a task's SDK fetches its task role's keys from the container credentials endpoint
  (``AWS_CONTAINER_CREDENTIALS_FULL_URI`` with ``AWS_CONTAINER_AUTHORIZATION_TOKEN``) and
  refreshes them itself before they expire (botocore's ``ContainerProvider``). ``CredentialsServer``
  is that endpoint, on the loopback, one path and token per task role.
"""

from __future__ import annotations

import datetime
import hmac
import json
import secrets
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from localcloud.iam import AccessKey, RoleSessions

# Variables an SDK reads credentials from: a process must not inherit the local cloud's own.
CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
)


class FunctionCredentials:
    """The execution role's keys for one new Lambda execution environment."""

    def __init__(self, sessions: RoleSessions, role_arn: str, function_name: str) -> None:
        self._sessions = sessions
        self.role_arn = role_arn
        self._session_name = function_name
        self.margin = 300.0  # an environment is retired this long before its keys expire

    def __call__(self) -> tuple[dict[str, str], float]:
        """(environment variables, epoch seconds after which the environment is retired)."""
        key = self._sessions.get(self.role_arn, self._session_name)
        expires = (key.expiration or float("inf")) - self.margin
        return key.env(), expires


def _iso8601(epoch: float) -> str:
    moment = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class CredentialsServer:
    """The ECS container credentials endpoint for the local cloud's tasks and services."""

    def __init__(self, sessions: RoleSessions, host: str = "127.0.0.1") -> None:
        self._sessions = sessions
        self._host = host
        self._routes: dict[str, tuple[str, str]] = {}  # path -> (role ARN, token)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.served = 0

    def environment(self, role_arn: str) -> dict[str, str]:
        """What a task of this role gets in its environment."""
        if self._server is None:
            self.start()
        assert self._server is not None
        path = f"/v2/credentials/{secrets.token_hex(12)}"
        token = secrets.token_urlsafe(24)
        self._routes[path] = (role_arn, token)
        port = self._server.server_address[1]
        return {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"http://{self._host}:{port}{path}",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": token,
        }

    def credentials(self, path: str, authorization: str | None) -> tuple[int, dict[str, Any]]:
        route = self._routes.get(path)
        if route is None:
            return 404, {"code": "NotFound", "message": "no credentials at this path"}
        role_arn, token = route
        if authorization is None or not hmac.compare_digest(authorization, token):
            return 401, {"code": "Unauthorized", "message": "wrong authorization token"}
        key: AccessKey = self._sessions.get(role_arn, "ecs-task")
        self.served += 1
        return 200, {
            "RoleArn": role_arn,
            "AccessKeyId": key.access_key_id,
            "SecretAccessKey": key.secret_access_key,
            "Token": key.session_token,
            "Expiration": _iso8601(key.expiration or 0),
        }

    def start(self) -> None:
        handler = _handler(self.credentials)
        self._server = ThreadingHTTPServer((self._host, 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ecs-credentials", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _handler(answer: Callable[[str, str | None], tuple[int, dict[str, Any]]]) -> type:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = answer(self.path, self.headers.get("Authorization"))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return  # one request per task every few minutes: not worth a log line

    return Handler
