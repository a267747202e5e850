"""ProvisionerFunction's environment, read once at start."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline_common.tickets import DEFAULT_TICKET_TTL_SECONDS


class ProvisionerSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True)

    clients_table: str = Field(min_length=3)
    tickets_table: str = Field(min_length=3)
    connections_table: str = Field(min_length=3)
    # The WebSocket stage, ``${WebSocketApi.ApiEndpoint}/${StageName}`` (wss://…): clients connect
    # to it, and its https:// twin is the @connections API that DELETE closes sockets with.
    websocket_endpoint: str
    client_ttl_days: int = Field(default=7, gt=0)
    # The contract caps tickets at 60 s: a ticket leaked from a URL is worth a minute at most.
    ticket_ttl_seconds: int = Field(default=DEFAULT_TICKET_TTL_SECONDS, gt=0, le=60)
    max_clients_per_user: int = Field(default=20, gt=0)
    max_client_creations_per_minute: int = Field(default=10, gt=0)
    max_body_bytes: int = Field(default=4096, gt=0)

    @field_validator("websocket_endpoint")
    @classmethod
    def _is_a_url(cls, value: str) -> str:
        if not value.startswith(("wss://", "ws://", "https://", "http://")):
            raise ValueError("WEBSOCKET_ENDPOINT must be a ws(s):// or http(s):// URL")
        return value.rstrip("/")

    @property
    def websocket_url(self) -> str:
        """Where clients connect: the stage URL over ws(s)."""
        return _swap_scheme(self.websocket_endpoint, {"https://": "wss://", "http://": "ws://"})

    @property
    def management_endpoint(self) -> str:
        """The stage's @connections API: the same URL over HTTP(S) (as ResultPushFunction does)."""
        return _swap_scheme(self.websocket_endpoint, {"wss://": "https://", "ws://": "http://"})


def _swap_scheme(url: str, schemes: dict[str, str]) -> str:
    for scheme, replacement in schemes.items():
        if url.startswith(scheme):
            return replacement + url[len(scheme) :]
    return url
