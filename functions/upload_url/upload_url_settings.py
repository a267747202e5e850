"""UploadUrlFunction's environment, read once at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline_common.s3_objects import link_lifetime


class UploadUrlSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True)

    image_input_bucket: str = Field(min_length=3, max_length=63)
    video_input_bucket: str = Field(min_length=3, max_length=63)
    # The image limit matches the dispatcher's MAX_OBJECT_BYTES, so S3 refuses at upload what the
    # pipeline would refuse later anyway.
    max_image_bytes: int = Field(default=52_428_800, gt=0)
    max_video_bytes: int = Field(default=524_288_000, gt=0)
    # The presigned POST lives at most 5 minutes (the browser uses it at once); a longer
    # setting fails the cold start.
    upload_expiry_seconds: int = link_lifetime(minimum=60)
    max_body_bytes: int = Field(default=4096, gt=0)
