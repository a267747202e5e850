"""ClientReaperFunction's environment, read once at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from pipeline_common.websocket_stage import StageUrl, WebSocketStageSettings


class ClientReaperSettings(WebSocketStageSettings):
    model_config = SettingsConfigDict(frozen=True)

    connections_table: str = Field(min_length=3)
    # The WebSocket stage, ``${WebSocketApi.ApiEndpoint}/${StageName}`` (wss://…): its https://
    # twin is the @connections API that closes a removed client's sockets.
    websocket_endpoint: StageUrl
