"""The WebSocket API stage as the functions are told it (``WEBSOCKET_ENDPOINT``, i.e.
``${WebSocketApi.ApiEndpoint}/${StageName}``) and the two URLs made from it: where clients
connect (``wss://``) and the stage's @connections API (``https://``), which closes sockets and
posts to them. One rule everywhere, on AWS and in the local cloud alike."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

import boto3
from botocore.config import Config
from pydantic import AfterValidator
from pydantic_settings import BaseSettings

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=5)
_TO_HTTP = {"wss://": "https://", "ws://": "http://"}
_TO_WS = {"https://": "wss://", "http://": "ws://"}


def _stage_url(value: str) -> str:
    if not value.startswith(("wss://", "ws://", "https://", "http://")):
        raise ValueError("WEBSOCKET_ENDPOINT must be a ws(s):// or http(s):// URL")
    return value.rstrip("/")


StageUrl = Annotated[str, AfterValidator(_stage_url)]


def _swap_scheme(url: str, schemes: dict[str, str]) -> str:
    for scheme, replacement in schemes.items():
        if url.startswith(scheme):
            return replacement + url[len(scheme) :]
    return url


def management_endpoint(websocket_endpoint: str) -> str:
    """A WebSocket stage's @connections API: the same URL over HTTP(S) (``wss`` -> ``https``,
    ``ws`` -> ``http``)."""
    return _swap_scheme(websocket_endpoint, _TO_HTTP)


def client_url(websocket_endpoint: str) -> str:
    """Where clients connect: the stage URL over ws(s)."""
    return _swap_scheme(websocket_endpoint, _TO_WS)


@lru_cache(maxsize=4)
def management_client(endpoint: str) -> Any:
    # The @connections API lives on the WebSocket stage's own URL, which AWS requires to be named
    # (it is not in AWS_ENDPOINT_URL's scope).
    return boto3.client("apigatewaymanagementapi", endpoint_url=endpoint, config=_CONFIG)


class WebSocketStageSettings(BaseSettings):
    """Settings of a function that talks to the WebSocket stage's @connections API."""

    # The WebSocket API's ApiEndpoint + "/" + stage, e.g. wss://abc.execute-api.../prod.
    websocket_endpoint: StageUrl

    @property
    def management_endpoint(self) -> str:
        return management_endpoint(self.websocket_endpoint)
