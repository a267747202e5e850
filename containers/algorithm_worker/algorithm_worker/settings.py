"""The worker's environment, read once at start; a malformed environment stops it (exit 2)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline_common.contracts.jobs import ALGO_ID_PATTERN

MIB = 1024 * 1024


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    algo_id: str = Field(pattern=ALGO_ID_PATTERN)
    request_queue_url: str = Field(min_length=1)
    pacs_api_url: str = Field(pattern=r"^https?://")
    output_bucket: str = Field(min_length=3, max_length=63)
    jobs_table: str = Field(min_length=3)
    results_topic_arn: str = Field(pattern=r"^arn:[^:]+:sns:.+\.fifo$")
    # The queue's own visibility timeout; the heartbeat keeps extending it to this while a job runs.
    visibility_timeout_seconds: int = Field(default=120, ge=6, le=43_200)
    wait_time_seconds: int = Field(default=20, ge=0, le=20)
    job_ttl_days: int = Field(default=7, ge=1, le=3650)
    http_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    max_instance_bytes: int = Field(default=256 * MIB, ge=1024)
    max_series_instances: int = Field(default=500, ge=1)
    download_concurrency: int = Field(default=4, ge=1, le=32)
    # After SIGTERM a running job gets this long to finish before its message is released.
    shutdown_grace_seconds: float = Field(default=25.0, ge=0)
    # The request queue's RedrivePolicy maxReceiveCount: on that receive, a job that fails for
    # a transient reason is FAILED (and published) instead of going to the DLQ still RUNNING.
    # Unset: the worker never gives up itself (the DLQ consumer still ends the job).
    max_receive_count: int | None = Field(default=None, ge=1, le=1000)
    # The task's memory (MiB): with it, a job whose data would not fit in it (less
    # memory_reserved_mib for the process itself) is FAILED before download. Unset: no budget.
    task_memory_mib: int | None = Field(default=None, ge=128)
    memory_reserved_mib: int = Field(default=512, ge=0)
    # Jobs this process runs at once, each on its own polling thread; the memory budget above is
    # shared out equally between them. 1 (the default) is one job at a time: more lets a worker
    # wait on the PACS, S3 and DynamoDB for one job while it computes another (throughput under
    # a burst), at the cost of a smaller budget per job.
    job_concurrency: int = Field(default=1, ge=1, le=16)

    @property
    def heartbeat_seconds(self) -> float:
        return self.visibility_timeout_seconds / 3
