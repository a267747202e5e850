"""VideoFramesFunction's environment, read once at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline_common.s3_objects import link_lifetime


class VideoFramesSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True)

    video_input_bucket: str = Field(min_length=3, max_length=63)
    video_frames_bucket: str = Field(min_length=3, max_length=63)
    # Links to patient data live at most 5 minutes; a longer setting fails the cold start.
    presign_expiry_seconds: int = link_lifetime()
    # Each frame is one GetObject: a page stays well inside the function's timeout.
    max_frames_per_page: int = Field(default=50, ge=1, le=500)
    max_videos_listed: int = Field(default=50, ge=1, le=1000)
    # How many of a user's upload versions are looked at to decide whether a video is theirs
    # (one ListObjectVersions page holds 1000).
    max_uploads_scanned: int = Field(default=1000, ge=1, le=10_000)
