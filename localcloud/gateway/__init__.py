"""API Gateway emulation for the embedded local cloud: REST APIs (Lambda proxy integration,
payload format 1.0, Cognito authorizers), HTTP APIs (JWT authorizer, HTTP_PROXY through a VPC
link), WebSocket APIs (routes, REQUEST authorizer, a working ``@connections``
management API) and the web console's static site, each on a local port.

See README.md in this directory for what is emulated and where it deliberately differs.
"""

from localcloud.gateway.errors import FunctionError
from localcloud.gateway.gateway import Gateway
from localcloud.gateway.jwt_auth import (
    CognitoAuthorizer,
    JwksCache,
    JwtAuthorizer,
    TokenVerifier,
    jwks_url_resolver,
)
from localcloud.gateway.models import (
    GatewayResponse,
    HttpCors,
    HttpProxyIntegration,
    HttpRoute,
    RestRoute,
    WebSocketAuthorizer,
    WebSocketRoute,
)

__all__ = [
    "CognitoAuthorizer",
    "FunctionError",
    "Gateway",
    "GatewayResponse",
    "HttpCors",
    "HttpProxyIntegration",
    "HttpRoute",
    "JwksCache",
    "JwtAuthorizer",
    "RestRoute",
    "TokenVerifier",
    "WebSocketAuthorizer",
    "WebSocketRoute",
    "jwks_url_resolver",
]
