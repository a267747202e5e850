"""WsConnectFunction's environment, read once at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from pipeline_common.websocket_stage import StageUrl, WebSocketStageSettings


class WsConnectSettings(WebSocketStageSettings):
    model_config = SettingsConfigDict(frozen=True)

    connections_table: str = Field(min_length=3)
    clients_table: str = Field(min_length=3)
    # API Gateway closes a WebSocket after 2 h at most; the TTL only sweeps up missed disconnects.
    connection_ttl_seconds: int = Field(default=3 * 3600, gt=0)
    # The most live connections one client keeps: a new one beyond it closes the oldest.
    max_connections_per_client: int = Field(default=5, ge=1, le=100)
    # The WebSocket API's ApiEndpoint + "/" + stage: its @connections API closes the oldest.
    websocket_endpoint: StageUrl
