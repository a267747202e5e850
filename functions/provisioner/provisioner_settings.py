"""ProvisionerFunction's environment, read once at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from pipeline_common.tickets import DEFAULT_TICKET_TTL_SECONDS
from pipeline_common.websocket_stage import StageUrl, WebSocketStageSettings, client_url


class ProvisionerSettings(WebSocketStageSettings):
    model_config = SettingsConfigDict(frozen=True)

    clients_table: str = Field(min_length=3)
    tickets_table: str = Field(min_length=3)
    connections_table: str = Field(min_length=3)
    # The WebSocket stage, ``${WebSocketApi.ApiEndpoint}/${StageName}`` (wss://…): clients connect
    # to it, and its https:// twin is the @connections API that DELETE closes sockets with.
    websocket_endpoint: StageUrl
    client_ttl_days: int = Field(default=7, gt=0)
    # The contract caps tickets at 60 s: a ticket leaked from a URL is worth a minute at most.
    ticket_ttl_seconds: int = Field(default=DEFAULT_TICKET_TTL_SECONDS, gt=0, le=60)
    max_clients_per_user: int = Field(default=20, gt=0)
    max_client_creations_per_minute: int = Field(default=10, gt=0)
    max_body_bytes: int = Field(default=4096, gt=0)

    @property
    def websocket_url(self) -> str:
        """Where clients connect: the stage URL over ws(s)."""
        return client_url(self.websocket_endpoint)
