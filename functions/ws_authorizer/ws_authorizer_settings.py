"""WsAuthorizerFunction's environment, read once at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WsAuthorizerSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True)

    tickets_table: str = Field(min_length=3)
    clients_table: str = Field(min_length=3)
