"""ClientReaperFunction's environment, read once at start."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline_common.client_teardown import management_endpoint


class ClientReaperSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True)

    connections_table: str = Field(min_length=3)
    # The WebSocket stage, ``${WebSocketApi.ApiEndpoint}/${StageName}`` (wss://…): its https://
    # twin is the @connections API that closes a removed client's sockets.
    websocket_endpoint: str

    @field_validator("websocket_endpoint")
    @classmethod
    def _is_a_url(cls, value: str) -> str:
        if not value.startswith(("wss://", "ws://", "https://", "http://")):
            raise ValueError("WEBSOCKET_ENDPOINT must be a ws(s):// or http(s):// URL")
        return value.rstrip("/")

    @property
    def management_endpoint(self) -> str:
        return management_endpoint(self.websocket_endpoint)
