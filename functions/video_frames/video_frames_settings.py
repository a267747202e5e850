"""VideoFramesFunction's environment, read once at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class VideoFramesSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True)

    video_input_bucket: str = Field(min_length=3, max_length=63)
    video_frames_bucket: str = Field(min_length=3, max_length=63)
    presign_expiry_seconds: int = Field(default=900, gt=0, le=7 * 24 * 3600)
    # Each frame is one GetObject: a page stays well inside the function's timeout.
    max_frames_per_page: int = Field(default=50, ge=1, le=500)
    max_videos_listed: int = Field(default=50, ge=1, le=1000)
