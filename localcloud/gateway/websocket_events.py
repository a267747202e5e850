"""The events a WebSocket API sends to Lambda ($connect, messages, $disconnect) and route selection.

A message route's return value is not sent back to the client: on API Gateway that needs a route
response, which this project's template does not configure (functions push with @connections).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from localcloud.gateway import clock
from localcloud.gateway.http_common import MultiValues, SingleValues

CONNECT, DISCONNECT, DEFAULT = "$connect", "$disconnect", "$default"
_BODY_PREFIX = "$request.body."


@dataclass(frozen=True)
class ConnectionInfo:
    """What every event of one connection repeats."""

    api_id: str
    stage: str
    connection_id: str
    connected_at: int
    domain_name: str
    source_ip: str
    user_agent: str | None
    headers: SingleValues
    multi_headers: MultiValues


def request_context(
    info: ConnectionInfo,
    *,
    route_key: str,
    event_type: str,
    request_id: str,
    epoch_ms: int,
    authorizer: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": clock.short_id(),
        "requestTime": clock.request_time(epoch_ms),
        "messageDirection": "IN",
        "stage": info.stage,
        "connectedAt": info.connected_at,
        "requestTimeEpoch": epoch_ms,
        "identity": {"userAgent": info.user_agent, "sourceIp": info.source_ip},
        "requestId": request_id,
        "domainName": info.domain_name,
        "connectionId": info.connection_id,
        "apiId": info.api_id,
        **extra,
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    return context


def connect_event(
    info: ConnectionInfo, context: dict, query: SingleValues, multi_query: MultiValues
) -> dict:
    event: dict[str, Any] = {
        "headers": info.headers,
        "multiValueHeaders": info.multi_headers,
        "requestContext": context,
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = multi_query
    return event


def message_event(context: dict, body: str) -> dict:
    return {"requestContext": context, "body": body, "isBase64Encoded": False}


def disconnect_event(info: ConnectionInfo, context: dict) -> dict:
    return {
        "headers": info.headers,
        "multiValueHeaders": info.multi_headers,
        "requestContext": context,
        "isBase64Encoded": False,
    }


def select_route(body: str, expression: str, route_keys: set[str]) -> str | None:
    """The route for a message: the expression's value if a custom route has it, else $default.

    ``None`` when neither exists (API Gateway answers "Forbidden" on the socket).
    """
    selected = _evaluate(body, expression)
    if isinstance(selected, str) and not selected.startswith("$") and selected in route_keys:
        return selected
    return DEFAULT if DEFAULT in route_keys else None


def _evaluate(body: str, expression: str) -> Any:
    if expression.startswith("${") and expression.endswith("}"):
        expression = "$" + expression[2:-1]
    if not expression.startswith(_BODY_PREFIX):
        # Only body expressions select per message; a constant one names a route outright.
        return expression
    try:
        value: Any = json.loads(body)
    except ValueError:
        return None
    for name in expression[len(_BODY_PREFIX) :].split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value
