"""What the local cloud declares about its APIs: routes, authorizer, and per-API settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

#: API Gateway's hard limits, the same on AWS and here.
REST_PAYLOAD_LIMIT_BYTES = 10 * 1024 * 1024
WEBSOCKET_MESSAGE_LIMIT_BYTES = 128 * 1024
INTEGRATION_TIMEOUT_SECONDS = 29.0

#: What the console's "Enable CORS" allows when the template names no headers.
DEFAULT_CORS_ALLOW_HEADERS = "Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token"


@dataclass(frozen=True)
class RestRoute:
    method: str  # "GET", "POST", ..., or "ANY"
    path: str  # API Gateway template: "/jobs/{job_id}", "/files/{proxy+}"
    function: str  # logical id of the Lambda function
    api_key_required: bool = False


@dataclass(frozen=True)
class WebSocketRoute:
    route_key: str  # "$connect", "$disconnect", "$default", or a custom action name
    function: str


@dataclass(frozen=True)
class WebSocketAuthorizer:
    function: str
    identity_sources: tuple[str, ...]  # e.g. ("route.request.querystring.client_id", ...)


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
class StaticSiteSpec:
    directory: Path
    port: int
    config: dict = field(default_factory=dict)
