"""WsDisconnectFunction's environment, read once at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WsDisconnectSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True)

    connections_table: str = Field(min_length=3)
