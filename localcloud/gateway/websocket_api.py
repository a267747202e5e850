"""One WebSocket API stage on its own port: the handshake (authorizer, then $connect), message
routing, $disconnect, idle timeout, and the @connections management API on the same port.

Clients connect to ``/{stage}``; backends call ``/{stage}/@connections/{connectionId}`` (boto3's
``apigatewaymanagementapi`` with ``endpoint_url`` set to the stage URL; signatures are not
checked). A connection is reachable there only between a successful $connect and its close.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from localcloud.gateway import clock
from localcloud.gateway.errors import FunctionError, IntegrationTimeout, MalformedResponse
from localcloud.gateway.http_common import (
    find_header,
    gateway_response,
    log_request,
    logger,
    query_pairs,
    read_limited,
    request_headers,
    source_ip,
    split_values,
    with_forwarding_headers,
)
from localcloud.gateway.invoker import Invoker
from localcloud.gateway.models import WEBSOCKET_MESSAGE_LIMIT_BYTES, WebSocketApiSpec
from localcloud.gateway.websocket_auth import (
    build_authorizer_event,
    evaluate_policy,
    method_arn,
    missing_identity_sources,
)
from localcloud.gateway.websocket_connections import Connection, ConnectionRegistry
from localcloud.gateway.websocket_events import (
    CONNECT,
    DISCONNECT,
    ConnectionInfo,
    connect_event,
    disconnect_event,
    message_event,
    request_context,
    select_route,
)

GOING_AWAY = 1001
UNSUPPORTED_DATA = 1003
_ABNORMAL = 1006
_SHUTDOWN_GRACE_SECONDS = 35.0  # longer than one integration timeout: $disconnect gets its run


class _Rejected(Exception):
    """The handshake ends with this HTTP response instead of an upgrade."""

    def __init__(self, response: web.Response, function: str | None) -> None:
        super().__init__(response.status)
        self.response = response
        self.function = function


# (method, raw path, headers, body, resource ARN) -> None, or (error type, message) when the
# caller's credentials do not allow execute-api:ManageConnections on the resource.
ManagementAuthorizer = Callable[[str, str, dict[str, str], bytes, str], "tuple[str, str] | None"]


class WebSocketApi:
    def __init__(
        self,
        spec: WebSocketApiSpec,
        invoker: Invoker,
        *,
        region: str,
        account_id: str,
        management_authorizer: ManagementAuthorizer | None = None,
    ) -> None:
        self.spec = spec
        self._management_authorizer = management_authorizer
        self._management_arn = (
            f"arn:aws:execute-api:{region}:{account_id}:{spec.api_id}/{spec.stage}"
        )

        self._invoker = invoker
        self._arn = method_arn(region, account_id, spec.api_id, spec.stage)
        self._routes = {route.route_key: route for route in spec.routes}
        self._message_route_keys = set(self._routes) - {CONNECT, DISCONNECT}
        self._path = f"/{spec.stage}"
        self.registry = ConnectionRegistry()
        self._shutting_down = False

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", f"{self._path}/@connections/{{connection_id}}", self.manage)
        app.router.add_route("GET", self._path, self.connect)
        app.router.add_route("GET", self._path + "/", self.connect)
        app.router.add_route("*", "/{tail:.*}", self._forbidden)
        return app

    # -- handshake -----------------------------------------------------------------------------

    async def connect(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        request_id = clock.request_id()
        if not web.WebSocketResponse().can_prepare(request).ok:
            response = gateway_response(426, "Upgrade Required", request_id=request_id)
            log_request("GET", self._path, 426, None, started)
            return response
        if self._shutting_down:
            return gateway_response(503, "Service Unavailable", request_id=request_id)
        epoch = clock.now_ms()
        headers, multi_headers = split_values(
            with_forwarding_headers(request, request_headers(request))
        )
        query, multi_query = split_values(query_pairs(request))
        info = ConnectionInfo(
            api_id=self.spec.api_id,
            stage=self.spec.stage,
            connection_id=clock.short_id(),
            connected_at=epoch,
            domain_name=request.host,
            source_ip=source_ip(request),
            user_agent=request.headers.get("User-Agent"),
            headers=headers,
            multi_headers=multi_headers,
        )
        try:
            authorizer = await self._authorize(info, query, multi_query, request_id, epoch)
            protocols = await self._run_connect_route(
                info, query, multi_query, request_id, epoch, authorizer
            )
        except _Rejected as rejected:
            log_request("CONNECT", self._path, rejected.response.status, rejected.function, started)
            return rejected.response

        socket = web.WebSocketResponse(
            autoping=False, max_msg_size=WEBSOCKET_MESSAGE_LIMIT_BYTES, protocols=protocols
        )
        await socket.prepare(request)
        connection = Connection(
            info=info, socket=socket, authorizer=authorizer, last_active_at=clock.now_ms()
        )
        self.registry.add(connection)
        connect_route = self._routes.get(CONNECT)
        log_request(
            "CONNECT",
            f"{self._path} {info.connection_id}",
            101,
            connect_route.function if connect_route else None,
            started,
        )
        try:
            await self._receive(connection)
        finally:
            self.registry.remove(connection)
            # Shielded: a server shutdown cancelling this handler must not skip $disconnect.
            disconnecting = asyncio.create_task(self._disconnect(connection))
            connection.pending.add(disconnecting)
            try:
                await asyncio.shield(disconnecting)
            finally:
                connection.finished.set()
                self.registry.forget(connection)
        return socket

    async def _authorize(
        self,
        info: ConnectionInfo,
        query: dict[str, str],
        multi_query: dict[str, list[str]],
        request_id: str,
        epoch: int,
    ) -> dict[str, Any] | None:
        authorizer = self.spec.authorizer
        if authorizer is None:
            return None
        function = authorizer.function
        if missing_identity_sources(authorizer.identity_sources, info.headers, query):
            raise _Rejected(self._error(401, "Unauthorized", request_id), None)
        context = request_context(
            info, route_key=CONNECT, event_type="CONNECT", request_id=request_id, epoch_ms=epoch
        )
        event = build_authorizer_event(
            arn=self._arn,
            headers=info.headers,
            multi_headers=info.multi_headers,
            query=query,
            multi_query=multi_query,
            request_context=context,
        )
        started = time.perf_counter()
        try:
            result = await self._invoker(
                function, event, timeout=self.spec.integration_timeout_seconds
            )
            decision = evaluate_policy(result, self._arn)
        except FunctionError as exc:
            # Raising "Unauthorized" is the documented way for an authorizer to answer 401.
            if exc.message == "Unauthorized":
                raise _Rejected(self._error(401, "Unauthorized", request_id), function) from exc
            logger.warning("authorizer %s raised %s: %s", function, exc.error_type, exc.message)
            failed = self._error(500, "Internal server error", request_id)
            raise _Rejected(failed, function) from exc
        except (IntegrationTimeout, MalformedResponse) as exc:
            logger.warning("authorizer %s failed: %s", function, exc)
            failed = self._error(500, "Internal server error", request_id)
            raise _Rejected(failed, function) from exc
        if not decision.allowed:
            raise _Rejected(self._error(403, "Forbidden", request_id), function)
        latency_ms = int((time.perf_counter() - started) * 1000)
        return {
            **decision.context,
            "principalId": decision.principal_id,
            "integrationLatency": latency_ms,
        }

    async def _run_connect_route(
        self,
        info: ConnectionInfo,
        query: dict[str, str],
        multi_query: dict[str, list[str]],
        request_id: str,
        epoch: int,
        authorizer: dict[str, Any] | None,
    ) -> tuple[str, ...]:
        """Runs $connect; returns the subprotocol it selected, if any. Rejections raise."""
        route = self._routes.get(CONNECT)
        if route is None:
            return ()
        context = request_context(
            info,
            route_key=CONNECT,
            event_type="CONNECT",
            request_id=request_id,
            epoch_ms=epoch,
            authorizer=authorizer,
        )
        try:
            result = await self._invoker(
                route.function,
                connect_event(info, context, query, multi_query),
                timeout=self.spec.integration_timeout_seconds,
            )
        except FunctionError as exc:
            logger.warning("%s raised %s: %s", route.function, exc.error_type, exc.message)
            raise _Rejected(
                self._error(502, "Internal server error", request_id), route.function
            ) from exc
        except IntegrationTimeout as exc:
            logger.warning("%s", exc)
            raise _Rejected(
                self._error(504, "Endpoint request timed out", request_id), route.function
            ) from exc
        if not isinstance(result, dict) or "statusCode" not in result:
            return ()  # a handler that returns nothing accepts the connection
        status = result["statusCode"]
        if isinstance(status, bool) or not isinstance(status, int):
            logger.warning("%s returned a non-integer statusCode %r", route.function, status)
            raise _Rejected(self._error(502, "Internal server error", request_id), route.function)
        if not 200 <= status < 300:
            body = result.get("body")
            response = web.Response(
                status=status,
                body=body.encode() if isinstance(body, str) else b"",
                headers={"x-amzn-RequestId": request_id},
            )
            raise _Rejected(response, route.function)
        headers = result.get("headers") or {}
        protocol = find_header(headers.items(), "Sec-WebSocket-Protocol") if headers else None
        return (str(protocol),) if protocol else ()

    # -- messages ------------------------------------------------------------------------------

    async def _receive(self, connection: Connection) -> None:
        socket = connection.socket
        idle = self.spec.idle_timeout_seconds
        while True:
            remaining = idle - (clock.now_ms() - connection.last_active_at) / 1000
            if remaining <= 0:
                connection.closing(GOING_AWAY, "Going away")
                await socket.close(code=GOING_AWAY, message=b"Going away")
                return
            try:
                message = await socket.receive(timeout=remaining)
            except TimeoutError:
                continue
            if message.type is WSMsgType.TEXT:
                connection.last_active_at = clock.now_ms()
                self._spawn(connection, message.data)
            elif message.type is WSMsgType.PING:
                connection.last_active_at = clock.now_ms()
                await socket.pong(message.data)
            elif message.type is WSMsgType.PONG:
                connection.last_active_at = clock.now_ms()
            elif message.type is WSMsgType.BINARY:
                # API Gateway rejects binary frames from clients and drops the connection.
                connection.closing(UNSUPPORTED_DATA, "Binary frames are not supported")
                await socket.close(code=UNSUPPORTED_DATA, message=b"Binary frames not supported")
                return
            elif message.type is WSMsgType.CLOSE:
                connection.closing(int(message.data), str(message.extra or ""))
                return
            elif message.type is WSMsgType.ERROR:
                # Too large a message (aiohttp closed with 1009) or a protocol violation.
                connection.closing(socket.close_code or _ABNORMAL, str(message.data))
                return
            else:  # CLOSING, CLOSED: the transport ended without a close frame from the client
                connection.closing(_ABNORMAL, "Connection lost")
                return

    def _spawn(self, connection: Connection, body: str) -> None:
        # Each message is its own integration call, concurrent with others, as on API Gateway.
        task = asyncio.create_task(self._handle_message(connection, body))
        connection.pending.add(task)
        task.add_done_callback(connection.pending.discard)

    async def _handle_message(self, connection: Connection, body: str) -> None:
        started = time.perf_counter()
        request_id = clock.request_id()
        route_key = select_route(
            body, self.spec.route_selection_expression, self._message_route_keys
        )
        if route_key is None:
            await self._send_error(connection, "Forbidden", request_id)
            log_request("MESSAGE", f"{self._path} {connection.connection_id}", 403, None, started)
            return
        route = self._routes[route_key]
        context = request_context(
            connection.info,
            route_key=route_key,
            event_type="MESSAGE",
            request_id=request_id,
            epoch_ms=clock.now_ms(),
            authorizer=connection.authorizer,
            messageId=clock.short_id(),
        )
        status = 200
        try:
            await self._invoker(
                route.function,
                message_event(context, body),
                timeout=self.spec.integration_timeout_seconds,
            )
        except FunctionError as exc:
            logger.warning("%s raised %s: %s", route.function, exc.error_type, exc.message)
            status = 502
            await self._send_error(connection, "Internal server error", request_id)
        except IntegrationTimeout as exc:
            logger.warning("%s", exc)
            status = 504
            await self._send_error(connection, "Endpoint request timed out", request_id)
        log_request(
            "MESSAGE",
            f"{self._path} {connection.connection_id} {route_key}",
            status,
            route.function,
            started,
        )

    async def _send_error(self, connection: Connection, message: str, request_id: str) -> None:
        frame = {
            "message": message,
            "connectionId": connection.connection_id,
            "requestId": request_id,
        }
        with contextlib.suppress(ConnectionError, RuntimeError):
            await connection.socket.send_str(json.dumps(frame))

    # -- disconnect ----------------------------------------------------------------------------

    async def _disconnect(self, connection: Connection) -> None:
        route = self._routes.get(DISCONNECT)
        if route is None:
            return
        started = time.perf_counter()
        code = connection.close_code or connection.socket.close_code or _ABNORMAL
        context = request_context(
            connection.info,
            route_key=DISCONNECT,
            event_type="DISCONNECT",
            request_id=clock.request_id(),
            epoch_ms=clock.now_ms(),
            authorizer=connection.authorizer,
            disconnectStatusCode=code,
            disconnectReason=connection.close_reason or "",
        )
        status = 200
        try:
            await self._invoker(
                route.function,
                disconnect_event(connection.info, context),
                timeout=self.spec.integration_timeout_seconds,
            )
        except (FunctionError, IntegrationTimeout) as exc:
            # $disconnect is best effort on API Gateway too: nobody is left to tell.
            logger.warning("%s failed on $disconnect: %s", route.function, exc)
            status = 502
        log_request(
            "DISCONNECT",
            f"{self._path} {connection.connection_id}",
            status,
            route.function,
            started,
        )

    # -- @connections --------------------------------------------------------------------------

    async def manage(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        request_id = clock.request_id()
        connection_id = request.match_info["connection_id"]
        response = await self._manage(request, connection_id, request_id)
        response.headers.setdefault("x-amzn-RequestId", request_id)
        log_request(
            request.method,
            f"{self._path}/@connections/{connection_id}",
            response.status,
            None,
            started,
        )
        return response

    async def _manage(
        self, request: web.Request, connection_id: str, request_id: str
    ) -> web.Response:
        if request.method not in ("POST", "GET", "DELETE"):
            return self._error(403, "Missing Authentication Token", request_id)
        data: bytes | None = b""
        if request.method == "POST":
            data = await read_limited(request, WEBSOCKET_MESSAGE_LIMIT_BYTES)
            if data is None:
                return gateway_response(
                    413,
                    "Message too long",
                    request_id=request_id,
                    error_type="PayloadTooLargeException",
                )
        if self._management_authorizer is not None:
            resource = f"{self._management_arn}/{request.method}/@connections/{connection_id}"
            denied = self._management_authorizer(
                request.method, request.raw_path, dict(request.headers), data or b"", resource
            )
            if denied is not None:
                error_type, message = denied
                return gateway_response(403, message, request_id=request_id, error_type=error_type)
        connection = self.registry.get(connection_id)
        if connection is None:
            return self._gone(request_id)
        if request.method == "GET":
            body = {
                "connectedAt": clock.iso8601(connection.info.connected_at),
                "identity": {
                    "sourceIp": connection.info.source_ip,
                    "userAgent": connection.info.user_agent or "",
                },
                "lastActiveAt": clock.iso8601(connection.last_active_at),
            }
            return web.json_response(body)
        if request.method == "DELETE":
            self.registry.remove(connection)
            self._spawn_close(connection, code=1000, reason="Connection deleted")
            return web.Response(status=204)
        assert data is not None
        try:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                await connection.socket.send_bytes(data)
            else:
                await connection.socket.send_str(text)
        except (ConnectionError, RuntimeError):
            return self._gone(request_id)
        return web.Response(status=200)

    def _spawn_close(self, connection: Connection, *, code: int, reason: str) -> None:
        # Closing waits for the client's close frame; the caller (a DELETE, stop()) need not.
        connection.closing(code, reason)
        task = asyncio.create_task(connection.socket.close(code=code, message=reason.encode()))
        connection.pending.add(task)
        task.add_done_callback(connection.pending.discard)

    async def close_all(self) -> None:
        """Close every socket (each gets its $disconnect) and wait for their handlers."""
        self._shutting_down = True
        connections = self.registry.every()
        for connection in connections:
            if not connection.socket.closed:
                self._spawn_close(connection, code=GOING_AWAY, reason="Going away")
        waits = [asyncio.create_task(connection.finished.wait()) for connection in connections]
        if waits:
            _, late = await asyncio.wait(waits, timeout=_SHUTDOWN_GRACE_SECONDS)
            for task in late:
                task.cancel()
        pending = [task for connection in connections for task in connection.pending]
        if pending:
            await asyncio.wait(pending, timeout=_SHUTDOWN_GRACE_SECONDS)

    # -- gateway answers -----------------------------------------------------------------------

    @staticmethod
    def _error(status: int, message: str, request_id: str) -> web.Response:
        return gateway_response(status, message, request_id=request_id)

    @staticmethod
    def _gone(request_id: str) -> web.Response:
        # boto3 reads x-amzn-ErrorType to raise GoneException; the body is API Gateway's.
        return gateway_response(410, None, request_id=request_id, error_type="GoneException")

    async def _forbidden(self, request: web.Request) -> web.Response:
        return self._error(403, "Forbidden", clock.request_id())
