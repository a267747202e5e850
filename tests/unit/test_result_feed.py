"""The poll feed's building blocks: ``completed_seq`` (text order is completion order) and the
opaque ``GET /results`` cursor (round trip, size bound, refusal of anything else)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipeline_common.result_feed import (
    SEQ_ATTRIBUTE,
    completed_seq,
    is_seq,
    is_stamp,
    seq_assignment,
    stamp,
    stamp_of,
)
from tests.support.functions import load_function

JOB = "7c9e6679742540de944be07fc1f90ae7"
T0 = datetime(2026, 12, 6, 10, 0, 0, tzinfo=UTC)


def test_seqs_sort_as_text_in_completion_order_across_digits_and_zones():
    # Given completions a microsecond, a second and a day apart, one stamped in another zone
    moments = [
        T0,
        T0 + timedelta(microseconds=1),
        T0 + timedelta(seconds=9),
        T0 + timedelta(days=1),
    ]
    moments.append((T0 + timedelta(days=2)).astimezone(timezone(timedelta(hours=-5))))

    # When their seqs are made
    seqs = [completed_seq(JOB, moment) for moment in moments]

    # Then text order is time order, each is a seq, and its stamp part is a UTC stamp
    assert seqs == sorted(seqs)
    assert all(is_seq(seq) and is_stamp(stamp_of(seq)) for seq in seqs)
    assert seqs[0] == f"2026-12-06T10:00:00.000000Z#{JOB}"


def test_the_assignment_writers_add_to_their_update_sets_the_seq_now():
    clause, values = seq_assignment(JOB, T0)

    assert clause == f"{SEQ_ATTRIBUTE} = :{SEQ_ATTRIBUTE}"
    assert values == {f":{SEQ_ATTRIBUTE}": {"S": completed_seq(JOB, T0)}}
    assert stamp(T0) < stamp_of(seq_assignment(JOB)[1][f":{SEQ_ATTRIBUTE}"]["S"])


@pytest.fixture(scope="module")
def cursors():
    return load_function("results_proxy", "results_cursor")


def test_a_cursor_round_trips_and_stays_short(cursors):
    recent = tuple(
        completed_seq(f"{JOB[:24]}{i:08d}", T0 + timedelta(seconds=i)) for i in range(50)
    )
    cursor = cursors.Cursor(horizon=stamp(T0 - timedelta(seconds=1)), recent=recent)

    text = cursor.encode()

    assert cursors.Cursor.decode(text) == cursor
    assert cursors.Cursor.decode("") == cursors.Cursor()
    assert len(text) <= cursors.MAX_CURSOR_CHARS
    assert text.replace("-", "").replace("_", "").isalnum()


@pytest.mark.parametrize(
    "make",
    [
        lambda c: c.Cursor(horizon="", recent=("not-a-seq",)),
        lambda c: c.Cursor(horizon=completed_seq(JOB, T0), recent=(completed_seq(JOB, T0),)),
        lambda c: c.Cursor(horizon="", recent=(completed_seq(JOB, T0),) * 2),
        lambda c: c.Cursor(
            horizon="",
            recent=tuple(completed_seq(f"{JOB}{i:04d}", T0) for i in range(c.MAX_RECENT + 1)),
        ),
    ],
    ids=["recent-not-a-seq", "recent-not-above-horizon", "duplicate", "too-many-recent"],
)
def test_a_cursor_that_breaks_its_rules_is_refused(cursors, make):
    with pytest.raises(cursors.InvalidCursor):
        cursors.Cursor.decode(make(cursors).encode())
