"""RouterFunction's environment, read once at start; a malformed value fails the cold start."""

from __future__ import annotations

import re

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline_common.contracts.jobs import ALGO_ID_PATTERN


class RouterSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True)

    jobs_table: str = Field(min_length=3)
    clients_table: str = Field(min_length=3)
    # {algo_id: request queue URL}: the algorithm registry as far as routing is concerned.
    algorithm_queues: dict[str, str]
    max_body_bytes: int = Field(default=16384, gt=0, le=10 * 1024 * 1024)
    job_ttl_days: int = Field(default=30, gt=0)
    # Per user, in any 60 s (the template's MaxJobsPerUserPerMinute); more answers 429.
    max_jobs_per_minute: int = Field(default=300, ge=1, le=100_000)

    @field_validator("algorithm_queues")
    @classmethod
    def _registry_is_sane(cls, queues: dict[str, str]) -> dict[str, str]:
        if not queues:
            raise ValueError("ALGORITHM_QUEUES must name at least one algorithm")
        for algo_id, url in queues.items():
            if not re.fullmatch(ALGO_ID_PATTERN, algo_id):
                raise ValueError(f"algorithm id {algo_id!r} does not match {ALGO_ID_PATTERN}")
            if not url.endswith(".fifo"):
                raise ValueError(f"the request queue of {algo_id!r} must be a FIFO queue")
        return queues
