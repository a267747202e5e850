"""The service's environment, read once at start; a malformed environment stops it (exit 2)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline_common.s3_objects import link_lifetime

MIB = 1024 * 1024


class PacsSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    pacs_bucket: str = Field(min_length=3, max_length=63)
    # Inside a container the service must listen on every interface or the ALB cannot reach it.
    host: str = "0.0.0.0"  # noqa: S104
    port: int = Field(default=8080, ge=1, le=65535)
    # Path prefix the load balancer routes to this service (e.g. "/pacs"); "" for none.
    root_path: str = Field(default="", pattern=r"^(/[A-Za-z0-9._-]+)*$")
    # Presigned links hand out raw DICOM (patient data): at most 5 minutes.
    presign_expiry_seconds: int = link_lifetime()
    # Metadata and previews read the whole object into memory: refuse anything larger.
    max_object_bytes: int = Field(default=256 * MIB, ge=1024)
    # The URL clients reach this API at (e.g. https://api.example.com/pacs), for the absolute
    # RetrieveURL and BulkDataURI values in answers; unset: taken from each request's Host.
    public_url: str = Field(default="", pattern=r"^(https?://[^\s/]+(/[^\s]*)?)?$")
    # STOW-RS: a request body and each instance in it are refused above these sizes (the body is
    # held in memory while its parts are validated and stored).
    max_stow_request_bytes: int = Field(default=512 * MIB, ge=1024)
    max_stow_part_bytes: int = Field(default=256 * MIB, ge=1024)
    # Browsers reach this service only through ServicesApi, whose CorsConfiguration answers for
    # the console's origin; the service itself allows none unless told (comma-separated).
    cors_allow_origins: str = ""

    @property
    def cors_origins(self) -> list[str]:
        return [origin.strip() for origin in self.cors_allow_origins.split(",") if origin.strip()]
