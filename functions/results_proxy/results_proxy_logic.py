"""A poll client's finished jobs after its cursor, from JobsTable, with fresh links.

Poll clients have no queue and no subscription on ``ResultsTopic`` (a FIFO topic takes few
subscriptions): whoever makes a job final writes its ``result`` and its ``completed_seq``
(``pipeline_common.result_feed``) in the same update, and this function reads
``client-results-index`` (HASH ``client_id``, RANGE ``completed_seq``) after the client's cursor,
oldest first. Reading deletes nothing: the same cursor returns the same results, so a lost
response is repeated, not lost; the client keeps ``next_cursor`` for its next request.

Only the client's owner may read its results (not even an admin: the results are one user's,
as with the queues before). A missing, expired or foreign client is the same 404, so client ids
cannot be probed. A stored result that is not a ``JobResult`` of this client is logged and
skipped (counted as ``discarded``), never returned; the job's own row still has it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import Field, ValidationError
from results_cursor import MAX_RECENT, Cursor, InvalidCursor
from results_proxy_settings import ResultsProxySettings

from pipeline_common.contracts.clients import DeliveredResult, PolledResults
from pipeline_common.contracts.common import Contract, utc_now
from pipeline_common.contracts.jobs import JOB_ID_PATTERN, JobResult
from pipeline_common.http import InvalidRequest, NotFound, deliverable, describe, field_of
from pipeline_common.identity import Caller
from pipeline_common.observability import logger
from pipeline_common.result_feed import stamp, stamp_of
from pipeline_common.tables.clients import live_client_of
from pipeline_common.tables.jobs import JobRow, client_results

MAX_LIMIT = 100


class PollParameters(Contract):
    client_id: str = Field(pattern=JOB_ID_PATTERN)
    after: str = Field(default="", max_length=4096)
    limit: int = Field(default=10, ge=1, le=MAX_LIMIT)
    wait_seconds: int = Field(default=0, ge=0, le=20)

    @classmethod
    def from_query(cls, query: dict[str, str], *, max_wait_seconds: int) -> PollParameters:
        """``?client_id=&after=&limit=&wait_seconds=``; waiting never exceeds the setting."""
        if "client_id" not in query:
            raise InvalidRequest("the client_id query parameter is required", field="client_id")
        # Other parameters (a browser's cache buster, say) are ignored, not refused.
        known = {key: value for key, value in query.items() if key in cls.model_fields}
        try:
            parameters = cls.model_validate(known)
        except ValidationError as exc:
            raise InvalidRequest(describe(exc), field=field_of(exc)) from exc
        if parameters.wait_seconds > max_wait_seconds:
            return parameters.model_copy(update={"wait_seconds": max_wait_seconds})
        return parameters

    def cursor(self) -> Cursor:
        try:
            return Cursor.decode(self.after)
        except InvalidCursor as exc:
            raise InvalidRequest(str(exc), field="after", code="invalid_cursor") from exc


@dataclass
class Page:
    """One read of the feed: the items to return and where the client then stands."""

    items: list[JobRow] = field(default_factory=list)
    cursor: Cursor = field(default_factory=Cursor)
    more: bool = False


def poll_results(
    *, parameters: PollParameters, caller: Caller, now: datetime, settings: ResultsProxySettings
) -> PolledResults:
    _require_poll_client(parameters.client_id, caller=caller, now=now, settings=settings)
    cursor = parameters.cursor()
    deadline = time.monotonic() + parameters.wait_seconds
    while True:
        page = read_feed(
            parameters.client_id,
            cursor,
            limit=parameters.limit,
            now=now,
            settle=timedelta(seconds=settings.results_settle_seconds),
            jobs_table=settings.jobs_table,
        )
        cursor = page.cursor
        if page.items or time.monotonic() + settings.requery_seconds > deadline:
            break
        time.sleep(settings.requery_seconds)
        now = utc_now()

    results: list[DeliveredResult] = []
    discarded = 0
    for item in page.items:
        result = _as_result(item, client_id=parameters.client_id, owner=caller.owner_id)
        if result is None:
            discarded += 1
            continue
        results.append(
            deliverable(
                result,
                output_bucket=settings.output_bucket,
                expiry_seconds=settings.presign_expiry_seconds,
                now=now,
            )
        )
    logger.info(
        "results delivered",
        extra={
            "client_id": parameters.client_id,
            "count": len(results),
            "discarded": discarded,
            "more": page.more,
        },
    )
    return PolledResults(
        results=results, discarded=discarded, next_cursor=cursor.encode(), more=page.more
    )


def read_feed(
    client_id: str,
    cursor: Cursor,
    *,
    limit: int,
    now: datetime,
    settle: timedelta,
    jobs_table: str,
) -> Page:
    """Up to ``limit`` of ``client_id``'s completions after ``cursor``, oldest first, and the
    cursor after them.

    A completion stamped before ``now - settle`` is settled: every such one is visible by now,
    so the horizon may pass it. Newer ones are returned too (no waiting for them) but recorded
    in the cursor's ``recent`` instead, at most ``MAX_RECENT`` of them; the horizon stops at
    ``now - settle``, so a late-landing completion stamped before a newer one is not skipped.
    """
    settled_below = stamp(now - settle)
    seen = set(cursor.recent)
    recent = list(cursor.recent)
    page = Page()
    last_settled: str | None = None
    stopped_in_settled = False
    for item in client_results(
        jobs_table, client_id, after=cursor.horizon, page_size=limit + len(seen) + 1
    ):
        seq = item.completed_seq or ""
        settled = stamp_of(seq) < settled_below
        if seq in seen:
            if settled:
                last_settled = seq
            continue
        if len(page.items) == limit:
            page.more = True
            stopped_in_settled = settled
            break
        if not settled:
            if len(recent) >= MAX_RECENT:
                break  # the rest are returned once they settle (within `settle`)
            recent.append(seq)
        else:
            last_settled = seq
        page.items.append(item)
    if stopped_in_settled:
        # Settled completions remain after the last one returned: stop right there.
        horizon = max(cursor.horizon, last_settled or "")
    else:
        # Every settled completion is behind us: the horizon moves to the settle line.
        horizon = max(cursor.horizon, settled_below)
    page.cursor = Cursor(horizon=horizon, recent=tuple(seq for seq in recent if seq > horizon))
    return page


def _require_poll_client(
    client_id: str, *, caller: Caller, now: datetime, settings: ResultsProxySettings
) -> None:
    client = live_client_of(settings.clients_table, client_id, owner=caller.owner_id, now=now)
    if client is None:
        raise NotFound("unknown client_id", field="client_id", code="unknown_client")
    if client.delivery != "poll":
        raise InvalidRequest(
            "this client receives results over the WebSocket, not by polling; "
            "GET /jobs/{job_id} has every result",
            field="client_id",
            code="not_a_polling_client",
        )


def _as_result(item: JobRow, *, client_id: str, owner: str) -> JobResult | None:
    job_id = item.job_id
    stored_owner = item.owner
    if stored_owner is not None and stored_owner != owner:
        # The router binds a job to its caller's own client, so this is a bug, never a result.
        logger.error("skipping a job of another owner on this client", extra={"job_id": job_id})
        return None
    try:
        result = JobResult.model_validate_json(item.result or "")
    except ValidationError as exc:
        logger.error(
            "skipping a stored result that is not a JobResult",
            extra={"job_id": job_id, "error": describe(exc)},
        )
        return None
    if result.client_id != client_id:
        logger.error("skipping another client's result", extra={"job_id": job_id})
        return None
    return result
