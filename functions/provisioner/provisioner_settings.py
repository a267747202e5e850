"""ProvisionerFunction's environment, read once at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline_common.tokens import DEFAULT_TOKEN_TTL_SECONDS


class ProvisionerSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True)

    clients_table: str = Field(min_length=3)
    results_topic_arn: str = Field(pattern=r"^arn:[^:]+:sns:[^:]+:\d{12}:[A-Za-z0-9_-]+\.fifo$")
    token_secret_arn: str = Field(min_length=1)
    # SQS names are <= 80 characters: "<prefix>-client-<32 hex>.fifo" leaves 35 for the prefix.
    client_queue_prefix: str = Field(pattern=r"^[A-Za-z0-9_-]{1,35}$")
    client_ttl_days: int = Field(default=7, gt=0)
    token_ttl_seconds: int = Field(default=DEFAULT_TOKEN_TTL_SECONDS, gt=0)
    max_body_bytes: int = Field(default=4096, gt=0)
