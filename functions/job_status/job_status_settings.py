"""JobStatusFunction's environment, read once at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline_common.s3_objects import link_lifetime


class JobStatusSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True)

    jobs_table: str = Field(min_length=3)
    output_bucket: str = Field(min_length=3)
    # Links are signed per request, so they can be short-lived: a client asks again for fresh ones.
    # They reach patient data, so at most 5 minutes; a longer setting fails the cold start.
    presign_expiry_seconds: int = link_lifetime()
