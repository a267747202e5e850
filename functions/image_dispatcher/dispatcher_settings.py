"""The dispatcher's environment, read once at cold start (a malformed one fails the init)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class DispatcherSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    state_machine_arn: str = Field(pattern=r"^arn:aws[a-z-]*:states:")
    metrics_queue_url: str = Field(min_length=1)
    max_object_bytes: int = Field(default=52_428_800, ge=1)
    # per-object: one execution (and one task) per object version, as before batching.
    # batched: one execution and one task per SQS batch of objects (ImageBatchSize/Window).
    dispatch_mode: Literal["per-object", "batched"] = "per-object"
    # Where batched mode writes each batch's manifest (the task reads it).
    manifest_bucket: str | None = Field(default=None, min_length=3, max_length=63)
    manifest_prefix: str = "manifests/"
    batch_timeout_seconds: int = Field(default=900, ge=1, le=86_400)
    # How long a per-object claim row lives (DynamoDB TTL): Step Functions keeps an execution's
    # name (the per-object idempotency key) 90 days after it closes; the claims match that.
    claim_ttl_days: int = Field(default=90, ge=1, le=3650)

    @model_validator(mode="after")
    def _batched_needs_a_manifest_bucket(self) -> DispatcherSettings:
        if self.dispatch_mode == "batched" and not self.manifest_bucket:
            raise ValueError("DISPATCH_MODE=batched needs MANIFEST_BUCKET")
        return self
