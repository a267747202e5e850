"""API Gateway emulation for the embedded local cloud: REST APIs (Lambda proxy integration,
payload format 1.0), WebSocket APIs (routes, REQUEST authorizer, a working ``@connections``
management API) and the web console's static site, each on a local port.

See README.md in this directory for what is emulated and where it deliberately differs.
"""

from localcloud.gateway.errors import FunctionError
from localcloud.gateway.gateway import Gateway
from localcloud.gateway.models import RestRoute, WebSocketAuthorizer, WebSocketRoute

__all__ = ["FunctionError", "Gateway", "RestRoute", "WebSocketAuthorizer", "WebSocketRoute"]
