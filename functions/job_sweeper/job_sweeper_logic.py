"""The sweep: RUNNING jobs whose worker was lost, and QUEUED jobs no worker took in time, are
FAILED with the reason and published.

A worker writes its job's ``heartbeat_at`` (epoch seconds) when it claims the job and every third
of its visibility timeout while the job runs. A RUNNING job whose heartbeat is older than
``STALE_AFTER_SECONDS`` has no live worker: its request is neither running nor waiting to be
retried in time (a retried request is claimed again, which refreshes the heartbeat). Rows of a
worker that wrote no heartbeat count from their ``updated_at``.

A QUEUED job older than ``QUEUED_TIMEOUT_SECONDS`` (a day by default) has waited through any
normal scale-out from zero: its workers are failing to start, or its request was lost. Its
request stays in the queue (14 days); a worker that receives it later finds the job FAILED and
drops it (the claim is conditional on QUEUED or RUNNING), so the client hears once.

Each failure is one conditional update (still RUNNING, heartbeat still stale), so a job whose
worker beat again, or that ended meanwhile, is left as it is. A row whose FAILED result was
stored but never published (``publish_pending``: its ender stopped in between) is published.

Why a Scan: JobsTable has one index, ``owner-index`` (``owner`` + ``created_at``, keys only),
and no index by status; a Query needs one (a sparse GSI on an attribute set only while a job
is RUNNING would make this a Query). The Scan reads only the attributes the sweep needs
(``ProjectionExpression``) and filters on the server, but it still reads (and is billed for) the
whole table each time: rows live 30 days (TTL), so its cost grows with the jobs of a month. It
runs every few minutes and stops before the function's timeout (the next sweep covers the rest);
a job that cannot be ended now (SNS or DynamoDB unavailable) is counted and left for the next.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from job_sweeper_settings import JobSweeperSettings

from pipeline_common.contracts.jobs import JobStatus
from pipeline_common.job_endings import JobEnder
from pipeline_common.observability import logger, metrics
from pipeline_common.tables.jobs import JobRow, iso_utc, scan_jobs

LOST_WORKER = (
    "#status = :running AND (heartbeat_at < :cutoff OR "
    "(attribute_not_exists(heartbeat_at) AND updated_at < :cutoff_iso))"
)
NEVER_TAKEN = "#status = :queued AND created_at < :queued_cutoff_iso"
STALE = f"({LOST_WORKER}) OR ({NEVER_TAKEN})"
_NAMES = {"#status": "status", "#result": "result", "#request": "request"}
_PROJECTION = (
    "job_id, #status, heartbeat_at, updated_at, #request, #result, publish_pending, "
    "receive_count, last_error"
)


@dataclass
class SweepReport:
    examined: int = 0
    failed: int = 0
    published: int = 0
    unreadable: int = 0
    errors: int = 0
    complete: bool = True


def stale_values(
    now: float, stale_after_seconds: int, queued_timeout_seconds: int
) -> dict[str, Any]:
    cutoff = int(now) - stale_after_seconds
    queued_cutoff = int(now) - queued_timeout_seconds
    return {
        ":running": {"S": JobStatus.RUNNING.value},
        ":queued": {"S": JobStatus.QUEUED.value},
        ":cutoff": {"N": str(cutoff)},
        ":cutoff_iso": {"S": _iso(cutoff)},
        ":queued_cutoff_iso": {"S": _iso(queued_cutoff)},
    }


def _iso(epoch: int) -> str:
    # The writers' fixed width (microseconds, +00:00): string order is time order.
    return iso_utc(datetime.fromtimestamp(epoch, UTC))


def reason_for(stale_after_seconds: int) -> str:
    return (
        f"the job's worker stopped reporting progress (no heartbeat for over "
        f"{stale_after_seconds} s); the job was ended by the sweeper"
    )


def queued_reason_for(queued_timeout_seconds: int) -> str:
    return (
        f"no worker took the job within {queued_timeout_seconds} s of its submission; "
        "the job was ended by the sweeper"
    )


def sweep(
    *,
    settings: JobSweeperSettings,
    ender: JobEnder,
    seconds_left: Callable[[], float],
    now: float | None = None,
) -> SweepReport:
    values = stale_values(
        time.time() if now is None else now,
        settings.stale_after_seconds,
        settings.queued_timeout_seconds,
    )
    report = SweepReport()
    pages = scan_jobs(
        settings.jobs_table,
        filter_expression=f"({STALE}) OR publish_pending = :pending",
        projection=_PROJECTION,
        names=_NAMES,
        values={**values, ":pending": {"BOOL": True}},
    )
    for rows in pages:
        for row in rows:
            report.examined += 1
            try:
                _end(row, settings=settings, ender=ender, values=values, report=report)
            except Exception:  # one job's failure (SNS, throttling) must not stop the sweep
                report.errors += 1
                logger.exception("could not end a stale job", extra={"job_id": row.job_id})
        if seconds_left() < settings.stop_before_timeout_seconds:
            report.complete = False
            break
    if report.failed:
        metrics.add_metric(name="StaleJobsFailed", unit=MetricUnit.Count, value=report.failed)
    if report.errors:
        metrics.add_metric(name="SweepErrors", unit=MetricUnit.Count, value=report.errors)
    logger.info("sweep done", extra=report.__dict__)
    return report


def _end(
    row: JobRow,
    *,
    settings: JobSweeperSettings,
    ender: JobEnder,
    values: dict[str, Any],
    report: SweepReport,
) -> None:
    job_id = row.job_id
    if row.publish_pending:
        if ender.publish_pending(row):
            report.published += 1
        return
    job = row.job()
    if job is None:
        # Every row the router or a worker writes has its request: nothing to publish to.
        logger.warning("stale RUNNING job without a readable request", extra={"job_id": job_id})
        report.unreadable += 1
        return
    queued = row.status == JobStatus.QUEUED
    if ender.fail(
        job,
        queued_reason_for(settings.queued_timeout_seconds)
        if queued
        else reason_for(settings.stale_after_seconds),
        ended_by="sweeper",
        condition=STALE,
        values=values,
    ):
        report.failed += 1
        logger.info("stale job failed", extra={"job_id": job_id, "algo_id": job.algo_id})
