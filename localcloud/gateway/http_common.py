"""Request pieces every API type shares: headers and query strings in API Gateway's two shapes,
the client's identity, gateway-generated error responses, and the one log line per request."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from urllib.parse import parse_qsl

from aiohttp import web

from localcloud.gateway import clock

logger = logging.getLogger("localcloud.gateway")

SingleValues = dict[str, str]
MultiValues = dict[str, list[str]]


def split_values(pairs: Iterable[tuple[str, str]]) -> tuple[SingleValues, MultiValues]:
    """API Gateway's ``headers``/``multiValueHeaders`` pair: the last value wins in the first.

    Names keep the client's spelling and order (REST and WebSocket events do not lowercase).
    """
    single: SingleValues = {}
    multi: MultiValues = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def request_headers(request: web.BaseRequest) -> list[tuple[str, str]]:
    # raw_headers keeps the exact spelling the client sent; HTTP header bytes are latin-1.
    return [
        (name.decode("latin-1"), value.decode("latin-1")) for name, value in request.raw_headers
    ]


def query_pairs(request: web.BaseRequest) -> list[tuple[str, str]]:
    return parse_qsl(request.query_string, keep_blank_values=True)


def find_header(pairs: Iterable[tuple[str, str]], name: str) -> str | None:
    wanted = name.lower()
    found = None
    for key, value in pairs:
        if key.lower() == wanted:
            found = value
    return found


def source_ip(request: web.BaseRequest) -> str:
    return request.remote or "127.0.0.1"


def with_forwarding_headers(
    request: web.BaseRequest, headers: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The request headers plus those API Gateway adds on its way to the integration."""
    forwarded = find_header(headers, "X-Forwarded-For")
    client = source_ip(request)
    kept = [(name, value) for name, value in headers if name.lower() != "x-forwarded-for"]
    added = [("X-Forwarded-For", f"{forwarded}, {client}" if forwarded else client)]
    if find_header(headers, "X-Amzn-Trace-Id") is None:
        added.append(("X-Amzn-Trace-Id", clock.trace_header()))
    if find_header(headers, "X-Forwarded-Port") is None:
        added.append(("X-Forwarded-Port", str(request.url.port or 80)))
    if find_header(headers, "X-Forwarded-Proto") is None:
        added.append(("X-Forwarded-Proto", request.scheme))
    return kept + added


async def read_limited(request: web.Request, limit: int) -> bytes | None:
    """The whole body, or ``None`` once it is known to exceed ``limit`` bytes."""
    declared = request.content_length
    if declared is not None and declared > limit:
        return None
    chunks = []
    size = 0
    async for chunk in request.content.iter_chunked(256 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def gateway_response(
    status: int,
    message: str | None,
    *,
    request_id: str,
    error_type: str | None = None,
    extra: dict | None = None,
) -> web.Response:
    """A response API Gateway itself generates (not the function): ``{"message": ...}``."""
    headers = {"x-amzn-RequestId": request_id}
    if error_type:
        headers["x-amzn-ErrorType"] = error_type
    body = {"message": message, **(extra or {})}
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        content_type="application/json",
        headers=headers,
    )


def log_request(
    method: str, path: str, status: int | str, function: str | None, started: float
) -> None:
    elapsed_ms = (time.perf_counter() - started) * 1000
    logger.info("%s %s %s %s %.1fms", method, path, status, function or "-", elapsed_ms)
