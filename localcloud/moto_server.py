"""moto's server, in this process, configured the way the local cloud needs it."""

from __future__ import annotations

import json
import logging
import os
import socket
import urllib.request

from moto.server import ThreadedMotoServer

from localcloud import moto_patches


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class MotoServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._server: ThreadedMotoServer | None = None
        self._previous_port: str | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        moto_patches.apply()
        # moto serves through werkzeug, which logs every request at INFO.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        # moto's Step Functions interpreter calls other services through this port. (moto's
        # backends are process-wide, so any live server of this process serves those calls.)
        self._previous_port = os.environ.get("MOTO_PORT")
        os.environ["MOTO_PORT"] = str(self.port)
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        self._post_config({"stepfunctions": {"execute_state_machine": True}})

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
            if self._previous_port is None:
                os.environ.pop("MOTO_PORT", None)
            else:
                os.environ["MOTO_PORT"] = self._previous_port

    def set_initial_no_auth_action_count(self, count: float) -> None:
        """moto's IAM enforcement (server mode): the next ``count`` calls go unchecked, every
        later one is authenticated and authorized; ``inf`` switches it off."""
        self._post("/moto-api/reset-auth", str(count).encode(), "text/plain")

    def _post_config(self, config: dict[str, object]) -> None:
        self._post("/moto-api/config", json.dumps(config).encode(), "application/json")

    def _post(self, path: str, data: bytes, content_type: str) -> None:
        request = urllib.request.Request(  # noqa: S310 (our own loopback server)
            f"{self.url}{path}",
            data=data,
            headers={"Content-Type": content_type},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()
