"""The REST proxy integration's two documents: the payload format 1.0 event API Gateway sends to
Lambda, and the proxy response it requires back (anything else is a "Malformed Lambda proxy
response", a 502 to the client)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from localcloud.gateway.errors import MalformedResponse
from localcloud.gateway.http_common import MultiValues, SingleValues, split_values

_RESPONSE_KEYS = frozenset(
    {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
)
# Framing is the gateway's business, not the function's: a function's value would be wrong.
_DROPPED_RESPONSE_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})


@dataclass(frozen=True)
class RestRequest:
    """What the event needs to know about one HTTP request, already taken apart."""

    api_id: str
    stage: str
    account_id: str
    method: str
    resource: str
    resource_id: str
    path: str  # without the stage, still percent-encoded, as API Gateway passes it
    headers: list[tuple[str, str]]
    query: list[tuple[str, str]]
    path_parameters: dict[str, str]
    body: bytes
    content_type: str | None
    binary_media_types: Sequence[str]
    source_ip: str
    user_agent: str | None
    domain_name: str
    request_id: str
    extended_request_id: str
    request_time: str
    request_time_epoch: int
    api_key: str | None
    authorizer_claims: dict[str, str] | None = None  # a Cognito authorizer's verified claims


def media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def is_binary(content_type: str | None, binary_media_types: Sequence[str]) -> bool:
    kind = media_type(content_type)
    return bool(kind) and any(fnmatchcase(kind, pattern.lower()) for pattern in binary_media_types)


def _body_field(request: RestRequest) -> tuple[str | None, bool]:
    if not request.body:
        return None, False
    if is_binary(request.content_type, request.binary_media_types):
        return base64.b64encode(request.body).decode("ascii"), True
    try:
        return request.body.decode("utf-8"), False
    except UnicodeDecodeError:
        # AWS would pass these bytes as mangled text; base64 keeps them intact (a documented
        # deviation: on AWS, list the type in BinaryMediaTypes to get the same event).
        return base64.b64encode(request.body).decode("ascii"), True


def _or_none(values: dict) -> dict | None:
    return values or None


def build_rest_event(request: RestRequest, headers: SingleValues, multi: MultiValues) -> dict:
    query, multi_query = split_values(request.query)
    body, is_base64 = _body_field(request)
    identity: dict[str, Any] = {
        "cognitoIdentityPoolId": None,
        "accountId": None,
        "cognitoIdentityId": None,
        "caller": None,
        "sourceIp": request.source_ip,
        "principalOrgId": None,
        "accessKey": None,
        "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None,
        "userArn": None,
        "userAgent": request.user_agent,
        "user": None,
    }
    if request.api_key is not None:
        identity["apiKey"] = request.api_key
        identity["apiKeyId"] = _api_key_id(request.api_key)
    context: dict[str, Any] = {
        "resourceId": request.resource_id,
        "resourcePath": request.resource,
        "httpMethod": request.method,
        "extendedRequestId": request.extended_request_id,
        "requestTime": request.request_time,
        "path": f"/{request.stage}{request.path}",
        "accountId": request.account_id,
        "protocol": "HTTP/1.1",
        "stage": request.stage,
        "domainPrefix": request.domain_name.split(".", 1)[0],
        "requestTimeEpoch": request.request_time_epoch,
        "requestId": request.request_id,
        "identity": identity,
        "domainName": request.domain_name,
        "apiId": request.api_id,
    }
    if request.authorizer_claims is not None:
        # Where API Gateway puts a Cognito user pool authorizer's verified claims.
        context["authorizer"] = {"claims": dict(request.authorizer_claims)}
    return {
        "resource": request.resource,
        "path": request.path,
        "httpMethod": request.method,
        "headers": _or_none(headers),
        "multiValueHeaders": _or_none(multi),
        "queryStringParameters": _or_none(query),
        "multiValueQueryStringParameters": _or_none(multi_query),
        "pathParameters": _or_none(request.path_parameters),
        "stageVariables": None,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": is_base64,
    }


def _api_key_id(api_key: str) -> str:
    # Stable per key, never the key itself: what a usage-plan key id is to a function.
    return hashlib.sha256(api_key.encode()).hexdigest()[:10]


@dataclass(frozen=True)
class ProxyResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _header_value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise MalformedResponse(f"header {name!r} has a {type(value).__name__} value")


def _response_headers(result: dict) -> list[tuple[str, str]]:
    single = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise MalformedResponse("headers and multiValueHeaders must be objects")
    pairs: list[tuple[str, str]] = []
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedResponse(f"multiValueHeaders[{name!r}] must be a list")
        pairs.extend((name, _header_value(name, value)) for value in values)
    # Both maps may name a header: the multi-value list wins, as on API Gateway.
    named = {name.lower() for name in multi}
    pairs.extend(
        (name, _header_value(name, value))
        for name, value in single.items()
        if name.lower() not in named
    )
    return [(name, value) for name, value in pairs if name.lower() not in _DROPPED_RESPONSE_HEADERS]


def _accepts_binary(accept: str | None, binary_media_types: Sequence[str]) -> bool:
    # API Gateway honours only the first media type of the request's Accept header.
    first = (accept or "").split(",", 1)[0]
    return is_binary(first, binary_media_types)


def parse_proxy_response(
    result: Any, *, accept: str | None, binary_media_types: Sequence[str]
) -> ProxyResponse:
    """The HTTP response for a function's return value, or ``MalformedResponse`` (a 502)."""
    if not isinstance(result, dict):
        raise MalformedResponse(f"the function returned {type(result).__name__}, not an object")
    unknown = set(result) - _RESPONSE_KEYS
    if unknown:
        raise MalformedResponse(f"unexpected keys {sorted(unknown)}")
    status = result.get("statusCode")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode must be an HTTP status integer, got {status!r}")
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        raise MalformedResponse(f"body must be a string, got {type(body).__name__}")
    encoded = result.get("isBase64Encoded")
    if encoded is not None and not isinstance(encoded, bool):
        raise MalformedResponse("isBase64Encoded must be a boolean")
    headers = _response_headers(result)
    payload = (body or "").encode("utf-8")
    if encoded and _accepts_binary(accept, binary_media_types):
        try:
            payload = base64.b64decode(body or "", validate=True)
        except binascii.Error as exc:
            raise MalformedResponse("isBase64Encoded is true but body is not base64") from exc
    if not any(name.lower() == "content-type" for name, _ in headers):
        # API Gateway's default when the function names no type.
        headers.append(("Content-Type", "application/json"))
    return ProxyResponse(status=status, headers=headers, body=payload)


def describe(result: Any) -> str:
    """A short, safe rendering of a bad function answer for the log."""
    try:
        text = json.dumps(result, default=repr)
    except (TypeError, ValueError):
        text = repr(result)
    return text if len(text) <= 300 else text[:300] + "..."
