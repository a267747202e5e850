"""Batched mode: every object of a batch's manifest, several at a time.

Objects overlap where they wait. While one object is decoded, converted and encoded, others are
being claimed, downloaded, uploaded, reported and finished: six requests an object, one after
another, which took most of an object's time in a batch run one object at a time (S3 answers in
tens of milliseconds on AWS; a 512x512 photo's pixel work is a few). The pixel work itself runs
one object at a time (``Progress.cpu_turn``): a decoded image is the task's large allocation (up
to MAX_IMAGE_PIXELS), so at most one is held at once, as before, and the kernel keeps all the
task's cores. What ``BATCH_CONCURRENCY`` adds to memory is the compressed inputs and encoded
outputs of the objects in flight (each input at most MAX_OBJECT_BYTES).

``BATCH_CONCURRENCY`` worker threads take the objects in manifest order. The main thread waits
for them and enforces ``OBJECT_TIMEOUT_SECONDS``: an object past its limit (its wait for a turn
at the CPU not counted) is reported FAILED, at the stage it was in, by the main thread, and a
new worker takes over the rest of the batch; the late thread stops at its next stage and reports
nothing (a call already under way, one request or one decode, finishes first, as with the
per-object mode's alarm). Worker threads are daemons: one stuck in a call does not hold the
task's exit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from grayscale_task.errors import ImageRejected
from grayscale_task.task import (
    EXIT_CRASHED,
    EXIT_PROCESSED,
    EXIT_REJECTED,
    ObjectAbandoned,
    Progress,
    process_object,
    report,
    setup,
)

if TYPE_CHECKING:
    from grayscale_task.settings import TaskSettings
    from pipeline_common.contracts.image import (
        ImageBatchManifest,
        ImageProcessingInput,
        ImageProcessingResult,
    )

# How often the main thread looks for objects past their limit (at most; sooner when one ends).
_WATCH_INTERVAL_SECONDS = 0.25


@dataclass
class _Flight:
    """One claimed object being worked on."""

    item: ImageProcessingInput
    progress: Progress
    started: float = field(default_factory=time.monotonic)
    settled: bool = False  # reported (or crashed) by its worker, or timed out by the main thread


class _Batch:
    def __init__(self, settings: TaskSettings, manifest: ImageBatchManifest) -> None:
        self.settings = settings
        self.cpu_lock = threading.Lock()
        self._changed = threading.Condition()
        self._next = 0
        self._objects = manifest.objects
        self._in_flight: list[_Flight] = []
        self.counts = {"SUCCEEDED": 0, "FAILED": 0, "skipped": 0, "crashed": 0}

    # --- shared state, under the condition's lock -------------------------------------------
    def take(self) -> ImageProcessingInput | None:
        with self._changed:
            if self._next >= len(self._objects):
                return None
            self._next += 1
            return self._objects[self._next - 1]

    def fly(self, item: ImageProcessingInput) -> _Flight:
        flight = _Flight(item, Progress(cpu_lock=self.cpu_lock))
        with self._changed:
            self._in_flight.append(flight)
        return flight

    def settle(self, flight: _Flight) -> bool:
        """True for the one caller that may report this object."""
        with self._changed:
            if flight.settled:
                return False
            flight.settled = True
            return True

    def done(self, outcome: str, flight: _Flight | None = None) -> None:
        with self._changed:
            self.counts[outcome] += 1
            if flight is not None and flight in self._in_flight:
                self._in_flight.remove(flight)
            self._changed.notify_all()

    def overdue(self, limit_seconds: int) -> list[_Flight]:
        """Settle and return the objects past their limit; their threads are told to stop."""
        now = time.monotonic()
        with self._changed:
            late = [
                f
                for f in self._in_flight
                if not f.settled and f.progress.active_seconds(f.started, now) > limit_seconds
            ]
            for flight in late:
                flight.settled = True
                flight.progress.abandoned = True
        return late

    def wait_until_all_ended(
        self, limit_seconds: int, on_overdue: Callable[[_Flight], None]
    ) -> None:
        while True:
            with self._changed:
                if sum(self.counts.values()) >= len(self._objects):
                    return
                self._changed.wait(_WATCH_INTERVAL_SECONDS if limit_seconds else None)
            if limit_seconds:
                for flight in self.overdue(limit_seconds):
                    on_overdue(flight)


def read_manifest(settings: TaskSettings) -> ImageBatchManifest:
    from botocore.exceptions import ClientError
    from pydantic import ValidationError

    from pipeline_common.aws import client, error_code
    from pipeline_common.contracts.image import ImageBatchManifest
    from pipeline_common.s3_objects import is_missing

    try:
        body = client("s3").get_object(Bucket=settings.manifest_bucket, Key=settings.manifest_key)
        manifest = ImageBatchManifest.model_validate_json(body["Body"].read())
    except ClientError as exc:
        if is_missing(exc):
            raise ImageRejected("task", f"batch manifest is gone ({error_code(exc)})") from exc
        raise
    except ValidationError as exc:
        raise ImageRejected("task", f"batch manifest is not valid: {exc}") from exc
    if manifest.batch_id != settings.batch_id:
        raise ImageRejected(
            "task", f"manifest of batch {manifest.batch_id}, not {settings.batch_id}"
        )
    return manifest


def _work(batch: _Batch) -> None:
    """A worker thread: objects one after another until the manifest is taken."""
    while (item := batch.take()) is not None:
        _one_object(batch, item)


def _one_object(batch: _Batch, item: ImageProcessingInput) -> None:
    from grayscale_task import claims
    from grayscale_task.log import logger

    settings = batch.settings
    assert settings.claims_table is not None
    assert settings.batch_id is not None
    log = {"key": item.key, "object_id": item.correlation_id}
    flight: _Flight | None = None
    try:
        if not claims.claim(
            settings.claims_table,
            item.correlation_id,
            batch_id=settings.batch_id,
            ttl_days=settings.claim_ttl_days,
        ):
            logger.info("object already reported or owned by another batch", extra=log)
            batch.done("skipped")
            return
        flight = batch.fly(item)
        result = process_object(settings, item.location, item.correlation_id, flight.progress)
        if not batch.settle(flight):
            return  # timed out: the main thread reported it
        _report_and_finish(settings, result)
        batch.done(result.status.value, flight)
    except ObjectAbandoned:
        return
    except Exception:
        if flight is not None and not batch.settle(flight):
            return  # the main thread reported it while this call was failing
        # Not this object's fault as far as we know: the others go on, the retry takes it.
        logger.exception("object crashed", extra=log)
        batch.done("crashed", flight)


def _report_and_finish(settings: TaskSettings, result: ImageProcessingResult) -> None:
    from grayscale_task import claims

    assert settings.claims_table is not None
    assert settings.batch_id is not None
    report(settings, result)
    claims.finish(
        settings.claims_table,
        result.correlation_id,
        batch_id=settings.batch_id,
        status=result.status.value,
    )


def run_batch(settings: TaskSettings) -> int:
    """Batched mode: every object of the manifest that this batch may claim."""
    from grayscale_task.log import logger
    from pipeline_common.contracts.image import ImageStatus

    started = time.perf_counter()
    # Every client is made here, in the main thread: boto3's default session is not safe for
    # making clients from several threads at once. The workers share them (clients are).
    setup(services=("s3", "sqs", "dynamodb"))
    setup_ms = (time.perf_counter() - started) * 1000.0
    try:
        manifest = read_manifest(settings)
    except ImageRejected as rejected:
        logger.error("batch manifest rejected", extra={"reason": rejected.reason})
        return EXIT_REJECTED

    batch = _Batch(settings, manifest)
    limit = settings.object_timeout_seconds

    def start_worker() -> None:
        threading.Thread(target=_work, args=(batch,), name="object", daemon=True).start()

    def report_overdue(flight: _Flight) -> None:
        reason = f"processing took longer than the {limit} s allowed per object"
        result = flight.progress.result(
            status=ImageStatus.FAILED,
            stage=flight.progress.current,
            reason=reason,
            correlation_id=flight.item.correlation_id,
            input=flight.item.location,
        )
        logger.warning("object timed out", extra={"key": flight.item.key, "stage": result.stage})
        try:
            _report_and_finish(settings, result)
        except Exception:
            logger.exception("object crashed", extra={"key": flight.item.key})
            batch.done("crashed", flight)
        else:
            batch.done("FAILED", flight)
        start_worker()  # the late thread may be stuck: the rest of the batch gets a new one

    for _ in range(min(settings.batch_concurrency, len(manifest.objects))):
        start_worker()
    batch.wait_until_all_ended(limit, report_overdue)
    logger.info(
        "batch done",
        extra={
            "objects": len(manifest.objects),
            **batch.counts,
            "concurrency": settings.batch_concurrency,
            "setup_ms": round(setup_ms, 3),
            "elapsed_ms": round((time.perf_counter() - started) * 1000.0, 3),
        },
    )
    return EXIT_CRASHED if batch.counts["crashed"] else EXIT_PROCESSED
