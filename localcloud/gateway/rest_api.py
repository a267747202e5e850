"""One REST API stage on its own port: routing, Cognito authorizers, API keys, CORS preflight,
the proxy integration.

Gateway-generated answers use API Gateway's default gateway responses: 403 "Missing
Authentication Token" (no such resource or method), 401 "Unauthorized" or "The incoming token
has expired" (Cognito authorizer), 403 "Forbidden" (API key), 413 "Request Too
Long", 502 "Internal server error" (handler raised or malformed proxy response), 504 "Endpoint
request timed out".
"""

from __future__ import annotations

import asyncio
import hashlib
import time

from aiohttp import web

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
from localcloud.gateway.jwt_auth import CognitoAuthorizer, TokenRejected, TokenVerifier, rest_claims
from localcloud.gateway.models import REST_PAYLOAD_LIMIT_BYTES, RestApiSpec
from localcloud.gateway.rest_events import (
    RestRequest,
    build_rest_event,
    describe,
    parse_proxy_response,
)
from localcloud.gateway.rest_routing import ALL_METHODS, ANY, RestRouter


def _resource_id(resource: str) -> str:
    return hashlib.sha256(resource.encode()).hexdigest()[:6]


class RestApi:
    def __init__(
        self,
        spec: RestApiSpec,
        invoker: Invoker,
        *,
        account_id: str,
        verifier: TokenVerifier | None = None,
    ) -> None:
        self.spec = spec
        self._verifier = verifier
        self._invoker = invoker
        self._account_id = account_id
        self._router = RestRouter(spec.routes)
        self._stage_prefix = f"/{spec.stage}"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=REST_PAYLOAD_LIMIT_BYTES + 1)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        request_id = clock.request_id()
        raw_path = request.raw_path.split("?", 1)[0]
        response, function = await self._respond(request, request_id, raw_path)
        if response.status == 413:
            # The unread body is still on the wire: this connection serves no further request.
            response.force_close()
        response.headers.setdefault("x-amzn-RequestId", request_id)
        response.headers.setdefault("x-amz-apigw-id", clock.short_id())
        log_request(request.method, raw_path, response.status, function, started)
        return response

    async def _respond(
        self, request: web.Request, request_id: str, raw_path: str
    ) -> tuple[web.StreamResponse, str | None]:
        if raw_path != self._stage_prefix and not raw_path.startswith(self._stage_prefix + "/"):
            return self._missing_token(request_id), None
        path = raw_path[len(self._stage_prefix) :] or "/"
        if request.content_length and request.content_length > REST_PAYLOAD_LIMIT_BYTES:
            return self._gateway("REQUEST_TOO_LARGE", 413, "Request Too Long", request_id), None

        method = request.method.upper()
        headers = request_headers(request)
        if method == "OPTIONS" and self.spec.cors_allow_origin is not None:
            preflight = self._preflight(path)
            if preflight is not None:
                if self.spec.preflight_authorizer is not None:
                    refused = await self._authorize(
                        self.spec.preflight_authorizer, headers, request_id
                    )
                    if isinstance(refused, web.Response):
                        return refused, None
                return preflight, None
        match = self._router.match(method, path)
        if match is None:
            return self._missing_token(request_id), None
        route = match.route

        claims: dict[str, str] | None = None
        if route.authorizer is not None:
            # The authorizer runs before the API key check, as on API Gateway.
            verified = await self._authorize(route.authorizer, headers, request_id)
            if isinstance(verified, web.Response):
                return verified, route.function
            claims = verified

        api_key = find_header(headers, "x-api-key")
        if route.api_key_required and (api_key is None or api_key not in self.spec.api_keys):
            forbidden = self._gateway(
                "INVALID_API_KEY", 403, "Forbidden", request_id, "ForbiddenException"
            )
            return forbidden, route.function

        body = await read_limited(request, REST_PAYLOAD_LIMIT_BYTES)
        if body is None:
            too_long = self._gateway("REQUEST_TOO_LARGE", 413, "Request Too Long", request_id)
            return too_long, route.function

        epoch = clock.now_ms()
        headers = with_forwarding_headers(request, headers)
        single, multi = split_values(headers)
        event = build_rest_event(
            RestRequest(
                api_id=self.spec.api_id,
                stage=self.spec.stage,
                account_id=self._account_id,
                method=method,
                resource=match.resource,
                resource_id=_resource_id(match.resource),
                path=path,
                headers=headers,
                query=query_pairs(request),
                path_parameters=match.path_parameters,
                body=body,
                content_type=request.headers.get("Content-Type"),
                binary_media_types=self.spec.binary_media_types,
                source_ip=source_ip(request),
                user_agent=request.headers.get("User-Agent"),
                domain_name=request.host,
                request_id=request_id,
                extended_request_id=clock.short_id(),
                request_time=clock.request_time(epoch),
                request_time_epoch=epoch,
                api_key=api_key if route.api_key_required else None,
                authorizer_claims=claims,
            ),
            single,
            multi,
        )
        return await self._integrate(route.function, event, request, request_id), route.function

    async def _integrate(
        self, function: str, event: dict, request: web.Request, request_id: str
    ) -> web.Response:
        try:
            result = await self._invoker(
                function, event, timeout=self.spec.integration_timeout_seconds
            )
        except FunctionError as exc:
            logger.warning("%s raised %s: %s", function, exc.error_type, exc.message)
            return self._internal_error(request_id)
        except IntegrationTimeout as exc:
            logger.warning("%s", exc)
            return self._gateway(
                "INTEGRATION_TIMEOUT", 504, "Endpoint request timed out", request_id
            )
        try:
            proxy = parse_proxy_response(
                result,
                accept=request.headers.get("Accept"),
                binary_media_types=self.spec.binary_media_types,
            )
        except MalformedResponse as exc:
            logger.warning(
                "Malformed Lambda proxy response from %s (%s): %s", function, exc, describe(result)
            )
            return self._internal_error(request_id)
        response = web.Response(status=proxy.status, body=proxy.body)
        for name, value in proxy.headers:
            response.headers.add(name, value)
        return response

    async def _authorize(
        self, authorizer: CognitoAuthorizer, headers: list[tuple[str, str]], request_id: str
    ) -> dict[str, str] | web.Response:
        """The token's claims as the event carries them, or the 401 API Gateway answers."""
        if self._verifier is None:
            raise RuntimeError("a REST API with a Cognito authorizer needs a TokenVerifier")
        header = find_header(headers, authorizer.identity_header)
        try:
            # Fetching a key set is blocking I/O: off the event loop.
            claims = await asyncio.to_thread(self._verifier.cognito, authorizer, header)
        except TokenRejected as exc:
            logger.info("authorizer %s refused the token: %s", authorizer.name, exc.reason)
            return self._gateway(
                "UNAUTHORIZED", 401, exc.message, request_id, "UnauthorizedException"
            )
        return rest_claims(claims)

    def _preflight(self, path: str) -> web.Response | None:
        """CORS preflight from the mock integration SAM adds to every path, when configured.

        A path with its own OPTIONS route is the function's to answer, as on API Gateway.
        """
        found = self._router.resource_for(path)
        if found is None:
            return None
        methods = self._router.methods_of(found[0])
        if "OPTIONS" in methods:
            return None
        allowed = set(ALL_METHODS) if ANY in methods else {*methods, "OPTIONS"}
        headers = {
            "Access-Control-Allow-Origin": self.spec.cors_allow_origin or "*",
            "Access-Control-Allow-Methods": ",".join(sorted(allowed)),
            "Access-Control-Allow-Headers": self.spec.cors_allow_headers,
        }
        return web.Response(status=200, body=b"", content_type="application/json", headers=headers)

    def _gateway(
        self,
        response_type: str,
        status: int,
        message: str,
        request_id: str,
        error_type: str | None = None,
    ) -> web.Response:
        """A gateway response, customised as the API's ``GatewayResponses`` say: the type's own
        entry, else ``DEFAULT_4XX``/``DEFAULT_5XX`` (status code and headers; API Gateway adds
        no CORS header to these unless configured, so a browser cannot read them otherwise)."""
        default = "DEFAULT_4XX" if status < 500 else "DEFAULT_5XX"
        custom = self.spec.gateway_responses.get(response_type) or self.spec.gateway_responses.get(
            default
        )
        if custom is not None and custom.status_code is not None:
            status = custom.status_code
        response = gateway_response(status, message, request_id=request_id, error_type=error_type)
        if custom is not None:
            response.headers.update(custom.headers)
        return response

    def _missing_token(self, request_id: str) -> web.Response:
        return self._gateway(
            "MISSING_AUTHENTICATION_TOKEN",
            403,
            "Missing Authentication Token",
            request_id,
            "MissingAuthenticationTokenException",
        )

    def _internal_error(self, request_id: str) -> web.Response:
        return self._gateway(
            "DEFAULT_5XX", 502, "Internal server error", request_id, "InternalServerErrorException"
        )
