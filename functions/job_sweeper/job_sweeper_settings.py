"""JobSweeperFunction's environment, read once at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class JobSweeperSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True)

    jobs_table: str = Field(min_length=3)
    results_topic_arn: str = Field(pattern=r"^arn:[^:]+:sns:.+\.fifo$")
    # A RUNNING job whose heartbeat is older than this has lost its worker. Workers beat every
    # third of their visibility timeout (40 s in the template); a redelivered job is claimed
    # again (a fresh heartbeat) one visibility timeout after its worker died. The bound leaves
    # room for a queue that waits for its service to scale out from zero.
    stale_after_seconds: int = Field(default=900, ge=60, le=7 * 86_400)
    # A QUEUED job older than this was never taken by a worker (its service cannot start, or the
    # request was lost): FAILED, so the client hears. Shorter than the queues' 14-day retention.
    queued_timeout_seconds: int = Field(default=86_400, ge=600, le=13 * 86_400)
    # The sweep stops (and the next one goes on) when less than this is left of the invocation.
    stop_before_timeout_seconds: float = Field(default=5.0, ge=0)
    job_ttl_days: int = Field(default=30, ge=1, le=3650)
