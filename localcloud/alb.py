"""An Application Load Balancer on one machine: listeners, path rules, target groups.

Each listener of the template becomes a local port; its rules (``path-pattern`` conditions,
``forward`` actions, by priority) choose a target group, and the request is proxied to one of the
ECS service processes registered behind it (round robin), as the ALB does with awsvpc targets.

Like the ALB, it keeps its connections to the targets open between requests and closes one idle
for ``IDLE_TIMEOUT_SECONDS`` (the ALB's default ``idle_timeout.timeout_seconds``; the PACS keeps
its side open longer, so the balancer is the one that closes). Opening a connection per request
cost every PACS call a connect and a session set-up.
"""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from yarl import URL

log = logging.getLogger("localcloud.alb")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "host", "content-length"}
IDLE_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Rule:
    priority: int
    path_patterns: tuple[str, ...]
    target_group: str

    def matches(self, path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in self.path_patterns)


class LoadBalancer:
    def __init__(
        self,
        *,
        port: int,
        default_target_group: str | None,
        rules: list[Rule],
        endpoints: Callable[[str], list[str]],
        host: str = "127.0.0.1",
    ) -> None:
        self.host = host
        self.port = port
        self.default_target_group = default_target_group
        self.rules = sorted(rules, key=lambda r: r.priority)
        self.endpoints = endpoints
        self._counter = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None  # to the targets, made in the loop
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def target_group_for(self, path: str) -> str | None:
        for rule in self.rules:
            if rule.matches(path):
                return rule.target_group
        return self.default_target_group

    async def _proxy(self, request: web.Request) -> web.StreamResponse:
        target_group = self.target_group_for(request.path)
        targets = self.endpoints(target_group) if target_group else []
        if not targets:
            return web.Response(status=503, text="503 Service Temporarily Unavailable")
        target = targets[next(self._counter) % len(targets)]
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["X-Forwarded-For"] = request.remote or "127.0.0.1"
        headers["X-Forwarded-Proto"] = "http"
        headers["X-Forwarded-Port"] = str(self.port)
        headers["Host"] = f"{self.host}:{self.port}"
        body = await request.read()
        if self._session is None:
            self._session = aiohttp.ClientSession(
                auto_decompress=False,
                # Shared by every client: it must not keep one client's cookies for the next.
                cookie_jar=aiohttp.DummyCookieJar(),
                connector=aiohttp.TCPConnector(keepalive_timeout=IDLE_TIMEOUT_SECONDS),
            )
        try:
            async with self._session.request(
                request.method,
                # The request line as the client encoded it (yarl would re-quote it).
                URL(f"http://{target}{request.raw_path}", encoded=True),
                headers=headers,
                data=body,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=60),
            ) as upstream:
                payload = await upstream.read()
                response = web.Response(status=upstream.status, body=payload)
                for key, value in upstream.headers.items():
                    if key.lower() not in _HOP_BY_HOP:
                        response.headers.add(key, value)
                return response
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("ALB: %s %s -> %s failed: %s", request.method, request.path, target, exc)
            return web.Response(status=502, text="502 Bad Gateway")

    def start(self) -> None:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            app = web.Application(client_max_size=64 * 1024**2)
            app.router.add_route("*", "/{tail:.*}", self._proxy)
            self._runner = web.AppRunner(app, access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self.host, self.port)
            self._loop.run_until_complete(site.start())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name=f"alb:{self.port}", daemon=True)
        self._thread.start()
        ready.wait(10)

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def stop(self) -> None:
        if self._loop is None or self._runner is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._close(), self._loop)
        future.result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(timeout=5)
