"""What the local cloud declares about its APIs: routes, authorizer, and per-API settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from localcloud.gateway.jwt_auth import CognitoAuthorizer, JwtAuthorizer

#: API Gateway's hard limits, the same on AWS and here.
REST_PAYLOAD_LIMIT_BYTES = 10 * 1024 * 1024
WEBSOCKET_MESSAGE_LIMIT_BYTES = 128 * 1024
INTEGRATION_TIMEOUT_SECONDS = 29.0
HTTP_API_INTEGRATION_TIMEOUT_SECONDS = 30.0

#: What the console's "Enable CORS" allows when the template names no headers.
DEFAULT_CORS_ALLOW_HEADERS = "Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token"


@dataclass(frozen=True)
class RestRoute:
    method: str  # "GET", "POST", ..., or "ANY"
    path: str  # API Gateway template: "/jobs/{job_id}", "/files/{proxy+}"
    function: str  # logical id of the Lambda function
    api_key_required: bool = False
    authorizer: CognitoAuthorizer | None = None  # None: open (SAM ``Authorizer: NONE``)


@dataclass(frozen=True)
class WebSocketRoute:
    route_key: str  # "$connect", "$disconnect", "$default", or a custom action name
    function: str


@dataclass(frozen=True)
class WebSocketAuthorizer:
    function: str
    identity_sources: tuple[str, ...]  # e.g. ("route.request.querystring.client_id", ...)


@dataclass(frozen=True)
class GatewayResponse:
    """One entry of SAM's ``GatewayResponses``: status code and headers (values unquoted)."""

    status_code: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RestApiSpec:
    api_id: str
    stage: str
    routes: tuple[RestRoute, ...]
    api_keys: frozenset[str]
    cors_allow_origin: str | None
    cors_allow_headers: str
    port: int
    binary_media_types: tuple[str, ...]
    integration_timeout_seconds: float
    # SAM's AddDefaultAuthorizerToCorsPreflight (default true): the preflight needs a token too.
    preflight_authorizer: CognitoAuthorizer | None = None
    gateway_responses: dict[str, GatewayResponse] = field(default_factory=dict)


@dataclass(frozen=True)
class WebSocketApiSpec:
    api_id: str
    stage: str
    routes: tuple[WebSocketRoute, ...]
    authorizer: WebSocketAuthorizer | None
    route_selection_expression: str
    port: int
    idle_timeout_seconds: float
    integration_timeout_seconds: float


@dataclass(frozen=True)
class HttpProxyIntegration:
    """``HTTP_PROXY``: the request goes to ``base_url`` with its path, query and body unchanged
    (a VPC link to an ALB listener: the local load balancer's URL)."""

    base_url: str
    method: str = "ANY"  # IntegrationMethod; ANY keeps the client's method
    timeout_seconds: float | None = None  # TimeoutInMillis; None: the API's (30 s)


@dataclass(frozen=True)
class HttpRoute:
    route_key: str  # "GET /status", "ANY /pacs/{proxy+}", or "$default"
    integration: HttpProxyIntegration
    authorizer: JwtAuthorizer | None = None


@dataclass(frozen=True)
class HttpCors:
    """An HTTP API's ``CorsConfiguration`` (values as given; origins compared exactly or ``*``)."""

    allow_origins: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False


@dataclass(frozen=True)
class HttpApiSpec:
    api_id: str
    stage: str  # "$default": no stage prefix in the URL
    routes: tuple[HttpRoute, ...]
    cors: HttpCors | None
    port: int
    integration_timeout_seconds: float


@dataclass(frozen=True)
class StaticSiteSpec:
    directory: Path
    port: int
    config: dict = field(default_factory=dict)
