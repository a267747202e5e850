"""JobDeadLettersFunction's environment, read once at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class JobDeadLettersSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True)

    jobs_table: str = Field(min_length=3)
    results_topic_arn: str = Field(pattern=r"^arn:[^:]+:sns:.+\.fifo$")
    # Where each dead-lettered request is kept (the function deletes it from the DLQ).
    dead_letter_bucket: str = Field(min_length=3, max_length=63)
    dead_letter_prefix: str = Field(default="dead-letters/", pattern=r"^[A-Za-z0-9._-]+/$")
    # TTL of a row this function creates (a job that reached the DLQ without a row).
    job_ttl_days: int = Field(default=30, ge=1, le=3650)
