"""ResultPushFunction's environment, read once at start."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline_common.s3_objects import link_lifetime


class ResultPushSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True)

    connections_table: str = Field(min_length=3)
    # The WebSocket API's ApiEndpoint + "/" + stage, e.g. wss://abc.execute-api.../prod.
    websocket_endpoint: str
    # When set, pushed results carry presigned links to outputs in this bucket (the function then
    # needs s3:GetObject on it); when unset, clients fetch links with GET /jobs/{job_id}.
    output_bucket: str | None = None
    presign_expiry_seconds: int = link_lifetime()

    @field_validator("websocket_endpoint")
    @classmethod
    def _is_a_url(cls, value: str) -> str:
        if not value.startswith(("wss://", "ws://", "https://", "http://")):
            raise ValueError("WEBSOCKET_ENDPOINT must be a ws(s):// or http(s):// URL")
        return value.rstrip("/")

    @property
    def management_endpoint(self) -> str:
        return management_endpoint(self.websocket_endpoint)


def management_endpoint(websocket_endpoint: str) -> str:
    """The @connections API of a WebSocket stage: the same URL over HTTP(S).

    One rule everywhere (AWS and the local cloud alike): ``wss`` -> ``https``, ``ws`` -> ``http``.
    """
    for scheme, http_scheme in (("wss://", "https://"), ("ws://", "http://")):
        if websocket_endpoint.startswith(scheme):
            return http_scheme + websocket_endpoint[len(scheme) :]
    return websocket_endpoint
