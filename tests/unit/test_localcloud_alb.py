"""The local load balancer's connections to its targets: kept open between requests as the ALB
keeps them, without carrying one client's cookies to the next."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from localcloud.alb import LoadBalancer
from localcloud.moto_server import free_port


class _Target(BaseHTTPRequestHandler):
    """Answers with the port the request came from (one per connection) and the cookies it got;
    ``/close`` answers and closes its connection, ``/cookie`` sets a cookie."""

    protocol_version = "HTTP/1.1"  # keep-alive, as uvicorn serves

    def do_GET(self) -> None:
        payload = json.dumps(
            {"peer_port": self.client_address[1], "cookie": self.headers.get("Cookie")}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if self.path == "/cookie":
            self.send_header("Set-Cookie", "session=alice; Path=/")
        if self.path == "/close":
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def balancer() -> Iterator[LoadBalancer]:
    target = ThreadingHTTPServer(("127.0.0.1", 0), _Target)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    address = f"127.0.0.1:{target.server_address[1]}"
    alb = LoadBalancer(
        port=free_port(),
        default_target_group="tg",
        rules=[],
        endpoints=lambda group: [address] if group == "tg" else [],
    )
    alb.start()
    yield alb
    alb.stop()
    target.shutdown()
    target.server_close()


def peer(alb: LoadBalancer, path: str = "/") -> dict:
    # A new client connection each time (no session): only the balancer can reuse a connection.
    response = requests.get(f"{alb.url}{path}", timeout=10)
    assert response.status_code == 200
    answer: dict = response.json()
    return answer


def test_requests_in_a_row_reach_the_target_on_one_connection(balancer):
    ports = {peer(balancer)["peer_port"] for _ in range(5)}

    assert len(ports) == 1


def test_a_connection_the_target_closed_is_not_reused(balancer):
    closed = peer(balancer, "/close")["peer_port"]

    after = peer(balancer)

    assert after["peer_port"] != closed


def test_a_cookie_set_for_one_client_is_not_sent_for_the_next(balancer):
    peer(balancer, "/cookie")

    assert peer(balancer)["cookie"] is None
