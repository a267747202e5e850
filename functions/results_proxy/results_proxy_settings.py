"""ResultsProxyFunction's environment, read once at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline_common.s3_objects import link_lifetime


class ResultsProxySettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True)

    clients_table: str = Field(min_length=3)
    jobs_table: str = Field(min_length=3)
    output_bucket: str = Field(min_length=3)
    # The longest a request may wait for a first result (``wait_seconds``); API Gateway gives up
    # after 29 s. A waiting request holds a Lambda instance, so with tens of thousands of poll
    # clients short polls (the default, 0) are what keeps concurrency low.
    wait_time_seconds: int = Field(default=10, ge=0, le=20)
    # How often a waiting request reads the index again.
    requery_seconds: float = Field(default=1.0, gt=0, le=5)
    # How late a completion may become visible after its stamp (the writer's UpdateItem, the
    # index's propagation, clock skew). The cursor never moves past ``now - settle``: what
    # completed since is returned at once but remembered in the cursor, so a completion stamped
    # earlier that lands later is still delivered, and nothing twice.
    results_settle_seconds: float = Field(default=10.0, ge=0, le=300)
    # Links to patient data live at most 5 minutes; a longer setting fails the cold start.
    presign_expiry_seconds: int = link_lifetime()
