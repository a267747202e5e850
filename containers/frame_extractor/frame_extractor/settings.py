"""The task's environment (container overrides from the state machine), read once at start."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline_common.contracts.video import KINESIS_MAX_RECORD_BYTES, VIDEO_ID_PATTERN


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    input_bucket: str = Field(min_length=3)
    input_key: str = Field(min_length=1)
    input_version_id: str | None = None
    video_id: str = Field(pattern=VIDEO_ID_PATTERN)
    correlation_id: str | None = None

    stream_name: str = Field(min_length=1)
    frames_bucket: str = Field(min_length=3)
    results_queue_url: str = Field(min_length=1)

    sample_every_n: int = Field(default=1, ge=1)
    target_fps: float | None = Field(default=None, gt=0)
    jpeg_quality: int = Field(default=85, ge=10, le=100)
    max_frames: int = Field(default=10_000, ge=1)
    # Below the Kinesis limit only to exercise the S3 path in tests and demos.
    max_record_bytes: int = Field(
        default=KINESIS_MAX_RECORD_BYTES, ge=1024, le=KINESIS_MAX_RECORD_BYTES
    )

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, values: dict) -> dict:
        # Step Functions overrides pass "" for a missing version id or an unset option.
        return {k: v for k, v in values.items() if v not in ("", None)}
