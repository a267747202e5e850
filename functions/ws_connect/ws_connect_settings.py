"""WsConnectFunction's environment, read once at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WsConnectSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True)

    connections_table: str = Field(min_length=3)
    clients_table: str = Field(min_length=3)
    # API Gateway closes a WebSocket after 2 h at most; the TTL only sweeps up missed disconnects.
    connection_ttl_seconds: int = Field(default=3 * 3600, gt=0)
