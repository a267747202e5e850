"""The video dispatcher's environment, read once at cold start (a malformed one fails the init)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DispatcherSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    state_machine_arn: str = Field(min_length=1)
    # VideoProcessingQueue (FIFO): where a rejected upload's video.failed message goes.
    results_queue_url: str = Field(min_length=1)
    max_object_bytes: int = Field(default=2 * 1024**3, gt=0)
