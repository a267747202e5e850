"""The API Gateway emulation: every REST, HTTP and WebSocket API (and the web console) of the
template, each on its own local port, served by one asyncio loop in a daemon thread.

Handlers run through the blocking ``invoke(function_logical_id, event)`` the local cloud
provides, called from a thread pool so slow functions never block the loop or each other.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from localcloud.gateway.http_api import DEFAULT_STAGE, HttpApi, HttpRouter
from localcloud.gateway.http_common import logger
from localcloud.gateway.invoker import Invoker
from localcloud.gateway.jwt_auth import (
    CognitoAuthorizer,
    JwksCache,
    TokenVerifier,
    jwks_url_resolver,
)
from localcloud.gateway.models import (
    DEFAULT_CORS_ALLOW_HEADERS,
    HTTP_API_INTEGRATION_TIMEOUT_SECONDS,
    INTEGRATION_TIMEOUT_SECONDS,
    GatewayResponse,
    HttpApiSpec,
    HttpCors,
    HttpRoute,
    RestApiSpec,
    RestRoute,
    StaticSiteSpec,
    WebSocketApiSpec,
    WebSocketAuthorizer,
    WebSocketRoute,
)
from localcloud.gateway.rest_api import RestApi
from localcloud.gateway.rest_routing import RestRouter
from localcloud.gateway.static_site import StaticSite, require_directory
from localcloud.gateway.websocket_api import WebSocketApi

_STATIC_SITE = "__static_site__"
_INVOKE_THREADS = 64  # concurrent integrations across all APIs; more wait, none is refused
_START_TIMEOUT_SECONDS = 30.0
_STOP_TIMEOUT_SECONDS = 90.0
# In-flight HTTP requests get this long at stop(); WebSockets were closed (with $disconnect) first.
_HTTP_SHUTDOWN_GRACE_SECONDS = 2.0


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0"):  # noqa: S104 - a bind address, named to be translated
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class Gateway:
    def __init__(
        self,
        invoke: Callable[[str, dict], Any],
        *,
        host: str = "127.0.0.1",
        region: str = "us-east-1",
        account_id: str = "123456789012",
        token_verifier: TokenVerifier | None = None,
    ) -> None:
        """``token_verifier`` checks tokens for Cognito and JWT authorizers; by default issuers'
        key sets are fetched from ``{issuer}/.well-known/jwks.json``."""
        self._invoke = invoke
        self._verifier = token_verifier or TokenVerifier(JwksCache(jwks_url_resolver(None)))
        self._host = host
        self._region = region
        self._account_id = account_id
        self._rest: dict[str, RestApiSpec] = {}
        self._websocket: dict[str, WebSocketApiSpec] = {}
        self._http: dict[str, HttpApiSpec] = {}
        self._static: StaticSiteSpec | None = None
        self._ports: dict[str, int] = {}
        self._websocket_apis: list[WebSocketApi] = []
        self._runners: list[web.AppRunner] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    # -- declaration ---------------------------------------------------------------------------

    def add_rest_api(
        self,
        api_id: str,
        *,
        stage: str,
        routes: Sequence[RestRoute],
        api_keys: Collection[str] = (),
        cors_allow_origin: str | None = None,
        port: int = 0,
        binary_media_types: Sequence[str] = (),
        cors_allow_headers: str = DEFAULT_CORS_ALLOW_HEADERS,
        integration_timeout_seconds: float = INTEGRATION_TIMEOUT_SECONDS,
        preflight_authorizer: CognitoAuthorizer | None = None,
        gateway_responses: dict[str, GatewayResponse] | None = None,
    ) -> None:
        """``preflight_authorizer``: SAM's ``AddDefaultAuthorizerToCorsPreflight`` (its default,
        true, puts the default authorizer on the generated OPTIONS methods too)."""
        self._check_new(api_id)
        RestRouter(routes)  # fail here, at declaration, on a bad or duplicate route
        self._rest[api_id] = RestApiSpec(
            api_id=api_id,
            stage=stage,
            routes=tuple(routes),
            api_keys=frozenset(api_keys),
            cors_allow_origin=cors_allow_origin,
            cors_allow_headers=cors_allow_headers,
            port=port,
            binary_media_types=tuple(binary_media_types),
            integration_timeout_seconds=integration_timeout_seconds,
            preflight_authorizer=preflight_authorizer,
            gateway_responses=dict(gateway_responses or {}),
        )

    def add_http_api(
        self,
        api_id: str,
        *,
        routes: Sequence[HttpRoute],
        stage: str = DEFAULT_STAGE,
        cors: HttpCors | None = None,
        port: int = 0,
        integration_timeout_seconds: float = HTTP_API_INTEGRATION_TIMEOUT_SECONDS,
    ) -> None:
        """An HTTP API (``ProtocolType: HTTP``) whose routes proxy to HTTP backends."""
        self._check_new(api_id)
        HttpRouter(tuple(routes))  # fail at declaration on a bad or duplicate route key
        self._http[api_id] = HttpApiSpec(
            api_id=api_id,
            stage=stage,
            routes=tuple(routes),
            cors=cors,
            port=port,
            integration_timeout_seconds=integration_timeout_seconds,
        )

    def add_websocket_api(
        self,
        api_id: str,
        *,
        stage: str,
        routes: Sequence[WebSocketRoute],
        authorizer: WebSocketAuthorizer | None = None,
        route_selection_expression: str = "$request.body.action",
        port: int = 0,
        idle_timeout_seconds: float = 600,
        integration_timeout_seconds: float = INTEGRATION_TIMEOUT_SECONDS,
    ) -> None:
        self._check_new(api_id)
        keys = [route.route_key for route in routes]
        if len(keys) != len(set(keys)):
            raise ValueError(f"WebSocket API {api_id} declares a route key twice: {keys}")
        self._websocket[api_id] = WebSocketApiSpec(
            api_id=api_id,
            stage=stage,
            routes=tuple(routes),
            authorizer=authorizer,
            route_selection_expression=route_selection_expression,
            port=port,
            idle_timeout_seconds=idle_timeout_seconds,
            integration_timeout_seconds=integration_timeout_seconds,
        )

    def add_static_site(
        self, directory: Path, *, port: int = 0, config: dict | None = None
    ) -> None:
        """Serve a built single-page app; `GET /config.json` returns `config`."""
        self._check_not_started()
        self._static = StaticSiteSpec(
            directory=require_directory(Path(directory)), port=port, config=dict(config or {})
        )

    def _check_new(self, api_id: str) -> None:
        self._check_not_started()
        if api_id in self._rest or api_id in self._websocket or api_id in self._http:
            raise ValueError(f"API {api_id} is already declared")

    def _check_not_started(self) -> None:
        if self._thread is not None:
            raise RuntimeError("declare every API before Gateway.start()")

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Binds every port (0 picks a free one), then serves from a daemon thread."""
        self._check_not_started()
        sockets = self._bind_all()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=_INVOKE_THREADS, thread_name_prefix="gateway-invoke"
        )
        invoker = Invoker(self._invoke, self._executor)
        loop = asyncio.new_event_loop()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._loop = loop
        self._thread = threading.Thread(
            target=self._serve,
            args=(loop, sockets, invoker, ready),
            name="localcloud-gateway",
            daemon=True,
        )
        self._thread.start()
        try:
            ready.result(timeout=_START_TIMEOUT_SECONDS)
        except BaseException:
            self.stop()
            raise
        for name, port in self._ports.items():
            logger.info("gateway %s listening on %s:%d", name, self._host, port)

    def _bind_all(self) -> dict[str, socket.socket]:
        wanted: dict[str, int] = {api_id: spec.port for api_id, spec in self._rest.items()}
        wanted.update({api_id: spec.port for api_id, spec in self._websocket.items()})
        wanted.update({api_id: spec.port for api_id, spec in self._http.items()})
        if self._static is not None:
            wanted[_STATIC_SITE] = self._static.port
        sockets: dict[str, socket.socket] = {}
        try:
            for name, port in wanted.items():
                sockets[name] = _bind(self._host, port)
                self._ports[name] = sockets[name].getsockname()[1]
        except OSError:
            for sock in sockets.values():
                sock.close()
            raise
        return sockets

    def _serve(
        self,
        loop: asyncio.AbstractEventLoop,
        sockets: dict[str, socket.socket],
        invoker: Invoker,
        ready: concurrent.futures.Future[None],
    ) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._open(sockets, invoker))
        except BaseException as exc:
            ready.set_exception(exc)
            loop.run_until_complete(self._close())
            loop.close()
            return
        ready.set_result(None)
        try:
            loop.run_forever()
        finally:
            leftovers = asyncio.all_tasks(loop)
            for task in leftovers:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _open(self, sockets: dict[str, socket.socket], invoker: Invoker) -> None:
        apps: list[tuple[str, web.Application]] = []
        for api_id, spec in self._rest.items():
            rest = RestApi(spec, invoker, account_id=self._account_id, verifier=self._verifier)
            apps.append((api_id, rest.app()))
        for api_id, http_spec in self._http.items():
            apps.append((api_id, HttpApi(http_spec, verifier=self._verifier).app()))
        for api_id, ws_spec in self._websocket.items():
            api = WebSocketApi(ws_spec, invoker, region=self._region, account_id=self._account_id)
            self._websocket_apis.append(api)
            apps.append((api_id, api.app()))
        if self._static is not None:
            apps.append((_STATIC_SITE, StaticSite(self._static).app()))
        for name, app in apps:
            # access_log off: the gateway writes its own line per request, with the function.
            runner = web.AppRunner(
                app,
                access_log=None,
                handle_signals=False,
                shutdown_timeout=_HTTP_SHUTDOWN_GRACE_SECONDS,
                # After a 413 aiohttp drains the rest of the upload so the client can read the
                # answer; a second is plenty on loopback and keeps stop() from waiting on it.
                lingering_time=1.0,
            )
            await runner.setup()
            self._runners.append(runner)
            await web.SockSite(runner, sockets[name]).start()

    async def _close(self) -> None:
        for api in self._websocket_apis:
            await api.close_all()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()

    def stop(self) -> None:
        """Closes every WebSocket (each gets its $disconnect), the ports, and the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            closing = asyncio.run_coroutine_threadsafe(self._close(), loop)
            try:
                closing.result(timeout=_STOP_TIMEOUT_SECONDS)
            finally:
                loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=_STOP_TIMEOUT_SECONDS)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._loop = self._thread = self._executor = None
        self._websocket_apis.clear()

    def __enter__(self) -> Gateway:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------------------

    def _port(self, name: str) -> int:
        if name not in self._ports:
            known = sorted(set(self._rest) | set(self._websocket) | set(self._http))
            raise KeyError(f"no started API {name!r} (declared: {known})")
        return self._ports[name]

    def rest_url(self, api_id: str) -> str:
        spec = self._rest[api_id]
        return f"http://{_url_host(self._host)}:{self._port(api_id)}/{spec.stage}"

    def http_api_url(self, api_id: str) -> str:
        """``http://127.0.0.1:PORT`` for the ``$default`` stage, else ``.../STAGE``."""
        spec = self._http[api_id]
        base = f"http://{_url_host(self._host)}:{self._port(api_id)}"
        return base if spec.stage == DEFAULT_STAGE else f"{base}/{spec.stage}"

    def websocket_url(self, api_id: str) -> str:
        return f"{self.websocket_endpoint(api_id)}/{self._websocket[api_id].stage}"

    def websocket_endpoint(self, api_id: str) -> str:
        if api_id not in self._websocket:
            raise KeyError(f"no WebSocket API {api_id!r}")
        return f"ws://{_url_host(self._host)}:{self._port(api_id)}"

    def management_url(self, api_id: str) -> str:
        """``http://127.0.0.1:PORT/STAGE``: the @connections endpoint_url for boto3's
        ``apigatewaymanagementapi`` (``https://{api}.execute-api.{region}.amazonaws.com/{stage}``
        on AWS)."""
        return "http" + self.websocket_url(api_id)[len("ws") :]

    @property
    def has_static_site(self) -> bool:
        return self._static is not None

    def static_url(self) -> str | None:
        if self._static is None or _STATIC_SITE not in self._ports:
            return None
        return f"http://{_url_host(self._host)}:{self._ports[_STATIC_SITE]}"
