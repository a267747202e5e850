"""The task's environment, read and validated once at start (a malformed one exits 1 at once)."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class TaskSettings(BaseSettings):
    """Per-run values (one object, or one batch's manifest) come from the state machine's
    container overrides; the rest from the task definition."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    # Per-object mode: the object.
    input_bucket: str | None = Field(default=None, min_length=3, max_length=63)
    input_key: str | None = Field(default=None, min_length=1, max_length=1024)
    # Empty when the input bucket is not versioned (ECS environment values cannot be null).
    input_version_id: str | None = None
    # Batched mode: the manifest listing the batch's objects (ImageBatchManifest).
    manifest_bucket: str | None = Field(default=None, min_length=3, max_length=63)
    manifest_key: str | None = Field(default=None, min_length=1, max_length=1024)
    batch_id: str | None = None
    # Per-object claims (batched mode only): grayscale_task.claims.
    claims_table: str | None = None
    claim_ttl_days: int = Field(default=90, ge=1, le=3650)
    correlation_id: str | None = None
    output_bucket: str = Field(min_length=3, max_length=63)
    metrics_queue_url: str = Field(min_length=1)
    output_prefix: str = "gray/"
    # Unset: no sidecar. Set (the template sets "results/"): the result message is also stored as
    # <prefix><input key>.json in the output bucket, which the console's image status reads.
    result_sidecar_prefix: str | None = None
    # 0 (or unset) means every core the kernel can use.
    grayscale_threads: int = Field(default=0, ge=0, le=1024)
    # Decompression-bomb limit, checked on the header before any pixel is allocated.
    max_image_pixels: int = Field(default=100_000_000, ge=1)
    max_object_bytes: int = Field(default=52_428_800, ge=1)
    # One object's limit, download to upload (0: none). Reported as that object's FAILED; the
    # whole task's limit is the state machine's (per object or per batch). In a batch, the wait
    # for the CPU turn (another object's decode, convert and encode) is not counted.
    object_timeout_seconds: int = Field(default=0, ge=0, le=86_400)
    # Batched mode: objects in flight at once (their requests overlap; the pixel work takes
    # turns, one object at a time). Kept within botocore's 10 pooled connections per client.
    batch_concurrency: int = Field(default=4, ge=1, le=8)
    jpeg_quality: int = Field(default=90, ge=1, le=95)
    # zlib level 0-9. 4 encodes a real photo ~2.3x faster than Pillow's default 6 for ~2% more
    # bytes; 1 is ~4x faster for ~20% more (bench/bench_image_task.py).
    png_compress_level: int = Field(default=4, ge=0, le=9)
    # Decode JPEG straight to its luma plane (libjpeg skips colour conversion): much faster, but
    # not bit-identical to RGB -> kernel (see bench/bench_image_task.py), so it is opt-in.
    jpeg_luma_decode: bool = False

    @field_validator(
        "input_version_id",
        "correlation_id",
        "result_sidecar_prefix",
        "input_bucket",
        "input_key",
        "manifest_bucket",
        "manifest_key",
        "batch_id",
        "claims_table",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value in ("", None) else value

    @model_validator(mode="after")
    def _one_object_or_one_batch(self) -> TaskSettings:
        single = self.input_bucket is not None and self.input_key is not None
        batch = self.manifest_bucket is not None and self.manifest_key is not None
        if single == batch:
            raise ValueError(
                "set either INPUT_BUCKET and INPUT_KEY (one object) or MANIFEST_BUCKET and "
                "MANIFEST_KEY (a batch)"
            )
        if batch and (self.claims_table is None or self.batch_id is None):
            raise ValueError("a batch needs CLAIMS_TABLE and BATCH_ID")
        return self

    @property
    def is_batch(self) -> bool:
        return self.manifest_key is not None
