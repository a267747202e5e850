"""ResultPushFunction's environment, read once at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from pipeline_common.s3_objects import link_lifetime
from pipeline_common.websocket_stage import StageUrl, WebSocketStageSettings


class ResultPushSettings(WebSocketStageSettings):
    model_config = SettingsConfigDict(frozen=True)

    connections_table: str = Field(min_length=3)
    # The WebSocket API's ApiEndpoint + "/" + stage, e.g. wss://abc.execute-api.../prod.
    websocket_endpoint: StageUrl
    # When set, pushed results carry presigned links to outputs in this bucket (the function then
    # needs s3:GetObject on it); when unset, clients fetch links with GET /jobs/{job_id}.
    output_bucket: str | None = None
    presign_expiry_seconds: int = link_lifetime()
