"""Contracts of the client-facing job API: provisioning a client, submitting a job, reading a job
and the results a client receives (pushed over the WebSocket or read with ``GET /results``).

A delivered result is a ``JobResult`` plus presigned links to its outputs, signed when it is
delivered, so the same model serves ``GET /jobs/{id}``, ``GET /results`` and the WebSocket push.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from pipeline_common.contracts.common import Contract
from pipeline_common.contracts.jobs import ALGO_ID_PATTERN, JOB_ID_PATTERN, JobResult, JobStatus

Delivery = Literal["push", "poll"]


class CreateClientRequest(Contract):
    """Body of ``POST /clients`` (an empty body means push delivery)."""

    delivery: Delivery = "push"


class CreateClientResponse(Contract):
    """The 201 body of ``POST /clients``: the client (bound to the caller) and a first ticket.

    ``ticket`` opens one WebSocket connection (``<websocket_url>?ticket=<ticket>``) until
    ``ticket_expires_at`` (at most 60 s); later connections need ``POST /clients/{id}/tickets``.
    """

    client_id: str = Field(pattern=JOB_ID_PATTERN)
    delivery: Delivery
    # Always None now: poll clients read GET /results, which needs no queue (kept so that
    # clients written against the old contract still parse the body).
    queue_url: str | None = None
    ticket: str
    ticket_expires_at: datetime
    websocket_url: str | None = None


class TicketResponse(Contract):
    """The 201 body of ``POST /clients/{client_id}/tickets``: one connection, within seconds."""

    ticket: str
    expires_at: datetime
    client_id: str = Field(pattern=JOB_ID_PATTERN)


class SubmitJobResponse(Contract):
    """The 202 body of ``POST /process/{algo_id}``."""

    job_id: str = Field(pattern=JOB_ID_PATTERN)
    algo_id: str = Field(pattern=ALGO_ID_PATTERN)
    status: JobStatus
    duplicate: bool = False


class AlgorithmsResponse(Contract):
    algorithms: list[str]


class DeliveredResult(JobResult):
    """A ``JobResult`` with its outputs as presigned HTTPS links (absent for FAILED jobs)."""

    overlay_url: str | None = None
    result_url: str | None = None
    urls_expire_at: datetime | None = None


class JobView(Contract):
    """The body of ``GET /jobs/{job_id}``."""

    job_id: str = Field(pattern=JOB_ID_PATTERN)
    status: JobStatus
    algo_id: str
    client_id: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    timings_ms: dict[str, float] = Field(default_factory=dict)
    reason: str | None = None
    result: DeliveredResult | None = None


class PolledResults(Contract):
    """The body of ``GET /results?client_id=&after=&limit=``: the client's finished jobs after
    the cursor ``after``, oldest first. ``next_cursor`` (opaque) is where the next request
    starts; the same ``after`` again returns the same results (nothing is consumed). ``more``:
    further results are ready now (ask again at once rather than after the polling interval)."""

    results: list[DeliveredResult]
    discarded: int = 0
    next_cursor: str
    more: bool = False
