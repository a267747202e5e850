"""A client's finished jobs as a feed: what ``GET /results`` reads, and the one attribute every
writer of a job's final state must set for it.

Poll clients hold no queue and no subscription: their results are read from ``JobsTable``
through ``client-results-index`` (HASH ``client_id``, RANGE ``completed_seq``), a sparse index
holding only jobs that ended. ``completed_seq`` orders a client's completions:

    ``<the writer's UTC clock at the write, fixed-width ISO-8601 with microseconds>#<job_id>``

It is written in the same ``UpdateItem`` that makes the job DONE or FAILED (``seq_assignment``),
stamped by the writer's clock at that write, not by the result's ``completed_at``: a worker
computes ``completed_at`` before uploading its outputs, seconds before the write lands, and the
feed's reader needs stamps close to when a completion becomes visible (see ``SETTLE`` in
ResultsProxyFunction). The job id makes two completions in the same microsecond distinct, and
text order is time order because the stamp is fixed-width.

Writers: ``pipeline_common.tables.jobs.finish_job`` (DONE or FAILED by the worker) and
``pipeline_common.tables.jobs.fail_job`` (FAILED by the worker's last receive, the request
dead-letter consumer or the sweeper); its reader is ``client_results`` there. Any other code
that sets a job's final ``status``/``result`` must add ``seq_assignment`` to its update, or the
result never reaches a poll client (it stays in ``GET /jobs/{id}``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pipeline_common.contracts.common import utc_now

SEQ_ATTRIBUTE = "completed_seq"
#: ``2026-01-19T09:15:00.123456Z``: 27 characters, so text order is time order.
STAMP_PATTERN = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z"
SEQ_PATTERN = STAMP_PATTERN + r"#[A-Za-z0-9][A-Za-z0-9_-]{7,63}"
_STAMP = re.compile(STAMP_PATTERN)
_SEQ = re.compile(SEQ_PATTERN)


def stamp(moment: datetime) -> str:
    """``moment`` in UTC as the feed's fixed-width stamp."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def completed_seq(job_id: str, moment: datetime | None = None) -> str:
    """The sort key of ``job_id``'s completion, stamped ``moment`` (now by default)."""
    return f"{stamp(moment or utc_now())}#{job_id}"


def seq_assignment(job_id: str, moment: datetime | None = None) -> tuple[str, dict[str, Any]]:
    """``(SET clause, values)`` to add to the ``UpdateItem`` that makes ``job_id`` final:
    ``"completed_seq = :completed_seq"`` and its value, stamped now (the write's time)."""
    return (
        f"{SEQ_ATTRIBUTE} = :{SEQ_ATTRIBUTE}",
        {f":{SEQ_ATTRIBUTE}": {"S": completed_seq(job_id, moment)}},
    )


def is_stamp(value: str) -> bool:
    return _STAMP.fullmatch(value) is not None


def is_seq(value: str) -> bool:
    return _SEQ.fullmatch(value) is not None


def stamp_of(seq: str) -> str:
    """The stamp part of a ``completed_seq`` (or a bare stamp, unchanged)."""
    return seq.split("#", 1)[0]
