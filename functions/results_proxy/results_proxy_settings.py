"""ResultsProxyFunction's environment, read once at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ResultsProxySettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True)

    clients_table: str = Field(min_length=3)
    output_bucket: str = Field(min_length=3)
    # API Gateway gives up after 29 s; SQS long polls at most 20 s.
    wait_time_seconds: int = Field(default=20, ge=0, le=20)
    # Links to patient data live at most 5 minutes; a longer setting fails the cold start.
    presign_expiry_seconds: int = Field(default=300, gt=0, le=300)
