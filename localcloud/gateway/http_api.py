"""One HTTP API (API Gateway v2, ``ProtocolType: HTTP``) stage on its own port: route selection,
the JWT authorizer, CORS, and the ``HTTP_PROXY`` integration (a VPC link to a load balancer).

Route selection follows API Gateway's HTTP API rules: among the routes whose method is the
request's (or ``ANY``) and whose path matches, the most specific path wins (literal segments,
then ``{param}``, then greedy ``{proxy+}``), a route naming the method beats ``ANY`` on the same
path, and ``$default`` takes what nothing else matches. Gateway-generated answers are HTTP APIs'
own: 404 ``{"message":"Not Found"}``, 401 ``{"message":"Unauthorized"}`` (with a
``www-authenticate`` header), 413 ``{"message":"Request Entity Too Large"}``, 503
``{"message":"Service Unavailable"}`` when the backend cannot be reached, 504
``{"message":"Gateway Timeout"}`` after the integration timeout.

With ``CorsConfiguration``, API Gateway answers preflight requests itself (no route, no
authorizer) and replaces any ``Access-Control-*`` header of the backend's answer with its own,
sent only for an allowed ``Origin``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from yarl import URL

from localcloud.gateway import clock
from localcloud.gateway.http_common import (
    find_header,
    gateway_response,
    log_request,
    logger,
    read_limited,
    request_headers,
    with_forwarding_headers,
)
from localcloud.gateway.jwt_auth import TokenRejected, TokenVerifier
from localcloud.gateway.models import REST_PAYLOAD_LIMIT_BYTES, HttpApiSpec, HttpCors, HttpRoute
from localcloud.gateway.rest_routing import (
    ALL_METHODS,
    ANY,
    match_segments,
    parse_resource,
    split_path,
)

DEFAULT_ROUTE = "$default"
DEFAULT_STAGE = "$default"
# Hop-by-hop headers (RFC 9110 7.6.1) and framing are the proxy's own, never forwarded.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


@dataclass(frozen=True)
class _CompiledRoute:
    route: HttpRoute
    method: str
    segments: tuple


class HttpRouter:
    def __init__(self, routes: tuple[HttpRoute, ...]) -> None:
        self._default: HttpRoute | None = None
        self._routes: list[_CompiledRoute] = []
        seen: set[tuple[str, str]] = set()
        for route in routes:
            if route.route_key == DEFAULT_ROUTE:
                if self._default is not None:
                    raise ValueError("HTTP API declares $default twice")
                self._default = route
                continue
            method, _, path = route.route_key.partition(" ")
            method = method.upper()
            if method != ANY and method not in ALL_METHODS:
                raise ValueError(f"unsupported route key {route.route_key!r}")
            resource = "/" + "/".join(split_path(path))
            if (method, resource) in seen:
                raise ValueError(f"route declared twice: {route.route_key}")
            seen.add((method, resource))
            self._routes.append(_CompiledRoute(route, method, parse_resource(resource)))

    def match(self, method: str, path: str) -> HttpRoute | None:
        parts = split_path(path)
        best: tuple[tuple[tuple[int, ...], int], HttpRoute] | None = None
        for compiled in self._routes:
            if compiled.method not in (ANY, method.upper()):
                continue
            if match_segments(compiled.segments, parts) is None:
                continue
            rank = (
                tuple(segment.kind for segment in compiled.segments),
                0 if compiled.method == ANY else 1,
            )
            if best is None or rank > best[0]:
                best = (rank, compiled.route)
        return best[1] if best is not None else self._default


def _allowed_origin(cors: HttpCors, origin: str | None) -> str | None:
    if origin is None:
        return None
    if origin in cors.allow_origins:
        return origin
    if "*" in cors.allow_origins:
        return origin if cors.allow_credentials else "*"
    return None


def _cors_headers(cors: HttpCors, origin: str | None) -> dict[str, str]:
    allowed = _allowed_origin(cors, origin)
    if allowed is None:
        return {}
    headers = {"Access-Control-Allow-Origin": allowed}
    if cors.allow_credentials:
        headers["Access-Control-Allow-Credentials"] = "true"
    if cors.expose_headers:
        headers["Access-Control-Expose-Headers"] = ",".join(cors.expose_headers)
    return headers


def _preflight_headers(cors: HttpCors, origin: str | None) -> dict[str, str]:
    headers = _cors_headers(cors, origin)
    if not headers:
        return {}
    if cors.allow_methods:
        headers["Access-Control-Allow-Methods"] = ",".join(cors.allow_methods)
    if cors.allow_headers:
        headers["Access-Control-Allow-Headers"] = ",".join(cors.allow_headers)
    if cors.max_age is not None:
        headers["Access-Control-Max-Age"] = str(cors.max_age)
    headers.pop("Access-Control-Expose-Headers", None)
    return headers


class HttpApi:
    def __init__(self, spec: HttpApiSpec, *, verifier: TokenVerifier | None = None) -> None:
        self.spec = spec
        self._verifier = verifier
        self._router = HttpRouter(spec.routes)
        self._prefix = "" if spec.stage == DEFAULT_STAGE else f"/{spec.stage}"
        self._session: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=REST_PAYLOAD_LIMIT_BYTES + 1)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.on_cleanup.append(self._close_session)
        return app

    async def _close_session(self, _app: web.Application) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        request_id = clock.short_id()
        raw_path = request.raw_path.split("?", 1)[0]
        response, target = await self._respond(request, request_id, raw_path)
        if response.status == 413:
            response.force_close()
        response.headers.setdefault("apigw-requestid", request_id)
        log_request(request.method, raw_path, response.status, target, started)
        return response

    async def _respond(
        self, request: web.Request, request_id: str, raw_path: str
    ) -> tuple[web.StreamResponse, str | None]:
        cors = self.spec.cors
        origin = request.headers.get("Origin")
        method = request.method.upper()
        if (
            cors is not None
            and method == "OPTIONS"
            and "Access-Control-Request-Method" in request.headers
        ):
            # Answered by API Gateway for every path, before routes and authorizers.
            return web.Response(status=204, headers=_preflight_headers(cors, origin)), None
        if self._prefix and not (
            raw_path == self._prefix or raw_path.startswith(self._prefix + "/")
        ):
            return self._with_cors(self._not_found(request_id), origin), None
        path = raw_path[len(self._prefix) :] or "/"
        route = self._router.match(method, path)
        if route is None:
            return self._with_cors(self._not_found(request_id), origin), None
        target = route.integration.base_url
        headers = request_headers(request)
        if route.authorizer is not None:
            if self._verifier is None:
                raise RuntimeError("an HTTP API with a JWT authorizer needs a TokenVerifier")
            value = find_header(headers, route.authorizer.header)
            try:
                await asyncio.to_thread(self._verifier.jwt, route.authorizer, value)
            except TokenRejected as exc:
                logger.info(
                    "authorizer %s refused the token: %s", route.authorizer.name, exc.reason
                )
                refused = gateway_response(401, "Unauthorized", request_id=request_id)
                refused.headers["www-authenticate"] = (
                    'Bearer scope="" error="invalid_token" error_description="the token is invalid"'
                )
                return self._with_cors(refused, origin), target
        if request.content_length and request.content_length > REST_PAYLOAD_LIMIT_BYTES:
            return gateway_response(413, "Request Entity Too Large", request_id=request_id), target
        body = await read_limited(request, REST_PAYLOAD_LIMIT_BYTES)
        if body is None:
            return gateway_response(413, "Request Entity Too Large", request_id=request_id), target
        response = await self._proxy(request, route, headers, body, request_id)
        return self._with_cors(response, origin), target

    async def _proxy(
        self,
        request: web.Request,
        route: HttpRoute,
        headers: list[tuple[str, str]],
        body: bytes,
        request_id: str,
    ) -> web.Response:
        integration = route.integration
        method = request.method if integration.method.upper() == ANY else integration.method
        forwarded = [
            (name, value)
            for name, value in with_forwarding_headers(request, headers)
            if name.lower() not in _HOP_BY_HOP
        ]
        # The path reaches the backend unchanged, stage prefix and all (HTTP_PROXY, VPC link).
        url = integration.base_url.rstrip("/") + request.raw_path
        if self._session is None:
            self._session = aiohttp.ClientSession(auto_decompress=False)
        try:
            async with self._session.request(
                method,
                URL(url, encoded=True),  # as the client encoded it: no re-quoting
                headers=forwarded,
                data=body,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    total=integration.timeout_seconds or self.spec.integration_timeout_seconds
                ),
            ) as upstream:
                payload = await upstream.read()
                response = web.Response(status=upstream.status, body=payload)
                for name, value in upstream.headers.items():
                    if name.lower() not in _HOP_BY_HOP:
                        response.headers.add(name, value)
                return response
        except TimeoutError:
            logger.warning("HTTP_PROXY %s %s: no answer in time", method, url)
            return gateway_response(504, "Gateway Timeout", request_id=request_id)
        except aiohttp.ClientError as exc:
            logger.warning("HTTP_PROXY %s %s failed: %s", method, url, exc)
            return gateway_response(503, "Service Unavailable", request_id=request_id)

    def _with_cors(self, response: web.Response, origin: str | None) -> web.Response:
        """API Gateway's CORS headers in place of the backend's (for an allowed origin only)."""
        if self.spec.cors is None:
            return response
        for name in {name for name in response.headers if name.lower().startswith("access-")}:
            if name.lower().startswith("access-control-"):
                response.headers.popall(name, None)
        response.headers.update(_cors_headers(self.spec.cors, origin))
        return response

    @staticmethod
    def _not_found(request_id: str) -> web.Response:
        return gateway_response(404, "Not Found", request_id=request_id)
