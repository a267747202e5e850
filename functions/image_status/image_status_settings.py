"""ImageStatusFunction's environment, read once at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline_common.s3_objects import link_lifetime


class ImageStatusSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True)

    image_input_bucket: str = Field(min_length=3, max_length=63)
    image_output_bucket: str = Field(min_length=3, max_length=63)
    # Both must match the grayscale task's OUTPUT_PREFIX and RESULT_SIDECAR_PREFIX.
    output_prefix: str = "gray/"
    result_sidecar_prefix: str = Field(default="results/", min_length=1)
    # Links to patient data live at most 5 minutes; a longer setting fails the cold start.
    presign_expiry_seconds: int = link_lifetime()
