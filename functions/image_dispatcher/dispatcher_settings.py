"""The dispatcher's environment, read once at cold start (a malformed one fails the init)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DispatcherSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    state_machine_arn: str = Field(pattern=r"^arn:aws[a-z-]*:states:")
    metrics_queue_url: str = Field(min_length=1)
    max_object_bytes: int = Field(default=52_428_800, ge=1)
