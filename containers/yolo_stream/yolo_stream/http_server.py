"""``GET /health`` (the ALB target group's check) and ``GET /status`` on a stdlib server: two
JSON endpoints do not justify a web framework in the image. Errors answer the project's one
error body, ``{"error": {"code", "message"}}``."""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pipeline_common.api_errors import route_error
from yolo_stream.service import YoloStreamService


def make_server(
    service: YoloStreamService,
    port: int,
    host: str = "0.0.0.0",  # noqa: S104 - the ALB reaches the task on its own ENI
) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/health":
                healthy = service.healthy()
                body = {
                    "status": "ok" if healthy else "unhealthy",
                    "model_loaded": True,
                    "model": service.detector.model_id,
                    "consumer_alive": healthy,
                }
                self._send(HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE, body)
            elif path == "/status":
                self._send(HTTPStatus.OK, service.status())
            else:
                self.send_error(HTTPStatus.NOT_FOUND, f"no route {path}")

        def send_error(
            self, code: int, message: str | None = None, explain: str | None = None
        ) -> None:
            # The base class answers an unknown method or a malformed request with an HTML
            # page; this server answers every error in the project's one JSON error body.
            status = HTTPStatus(code)
            self.close_connection = True
            self._send(status, route_error(status, message))

        def _send(self, status: HTTPStatus, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # health checks every few seconds would drown the logs

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def serve_in_background(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    thread.start()
    return thread
