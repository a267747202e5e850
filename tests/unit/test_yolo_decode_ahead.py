"""The YOLO consumer's decode stage on its own: results come back in stream order, at most
``ahead`` records beyond the one being taken are started, a load's error surfaces at its own
record, and a rewind (a record taken out of turn) drops what was pending."""

from __future__ import annotations

import threading
import time

import pytest

from tests.support.video_samples import use_container

use_container("yolo_stream")

from yolo_stream.decode_ahead import DecodeAhead  # noqa: E402
from yolo_stream.frame_processor import Prepared  # noqa: E402


class _Loads:
    """A load that records which record ran on which thread, slower for earlier records (so a
    stage that let them finish out of turn would show it), and fails on one record."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.started: list[tuple[str, str]] = []
        self.fail_on = fail_on
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, data: bytes, sequence_number: str) -> Prepared:
        self.gate.wait(10)
        self.started.append((sequence_number, threading.current_thread().name))
        time.sleep(0.01 * (5 - int(sequence_number) % 5))
        if sequence_number == self.fail_on:
            raise ValueError(f"cannot load {sequence_number}")
        return Prepared(timings={"record": float(sequence_number)})


def _records(n: int) -> list[dict]:
    return [{"SequenceNumber": str(i), "Data": b"x"} for i in range(n)]


@pytest.fixture
def stage():
    stages: list[DecodeAhead] = []

    def make(load: _Loads, ahead: int = 2) -> DecodeAhead:
        stages.append(DecodeAhead(load, "shard-0", ahead))
        return stages[-1]

    yield make
    for made in stages:
        made.close()


def test_records_come_back_in_stream_order_from_the_decode_thread(stage):
    loads = _Loads()
    ahead = stage(loads)
    records = _records(8)
    taken = []
    for i, record in enumerate(records):
        ahead.schedule(records[i : i + 3])
        taken.append(ahead.take(record["SequenceNumber"], record["Data"]).timings["record"])
    assert taken == [float(i) for i in range(8)]
    assert [s for s, _ in loads.started] == [str(i) for i in range(8)]
    assert {name.split("_")[0] for _, name in loads.started} == {"decode-shard-0"}


def test_no_more_than_ahead_records_wait_beyond_the_one_taken(stage):
    loads = _Loads()
    loads.gate.clear()  # nothing finishes: everything scheduled stays pending
    ahead = stage(loads, ahead=2)
    ahead.schedule(_records(10))
    assert ahead.pending == 3
    ahead.schedule(_records(10))  # already pending: nothing more starts
    assert ahead.pending == 3
    loads.gate.set()
    assert ahead.take("0", b"x").timings["record"] == 0.0
    assert ahead.pending == 2


def test_a_failed_load_raises_at_its_own_record(stage):
    loads = _Loads(fail_on="1")
    ahead = stage(loads)
    records = _records(3)
    ahead.schedule(records)
    assert ahead.take("0", b"x").timings["record"] == 0.0
    with pytest.raises(ValueError, match="cannot load 1"):
        ahead.take("1", b"x")
    assert ahead.take("2", b"x").timings["record"] == 2.0


def test_a_record_taken_out_of_turn_drops_the_pending_ones_and_loads_here(stage):
    loads = _Loads()
    ahead = stage(loads)
    ahead.schedule(_records(3))
    # after a failure the consumer reads again from its checkpoint: a record not at the head
    result = ahead.take("5", b"x")
    assert result.timings["record"] == 5.0
    assert ahead.pending == 0
    assert ("5", threading.current_thread().name) in loads.started
    ahead.close()
    assert not {"1", "2"} & {s for s, _ in loads.started}
