"""The whole task: one object (per-object mode) or every object of a batch's manifest (batched
mode: ``grayscale_task.batch``), stages in order, each timed, one result message per object, and
the exit code that tells the state machine what happened.

Exit codes (the state machine's Catch reads them from the stopped task):
- 0: per object: processed, SUCCEEDED message sent. Per batch: every object of the manifest is
  reported (SUCCEEDED, or FAILED for a rejected input: a bad image fails alone), or belongs to
  another batch that reports it.
- 2: per object: input rejected (not an image, corrupt, bomb, empty, gone), FAILED message sent:
  not retried, and the state machine sends nothing more. Per batch: the manifest itself is
  unreadable; the state machine reports every object of the batch.
- 1: crash (bad environment, AWS error, bug): the state machine runs the task again (twice at
  most), then reports what is left. In a batch, an object that crashes does not stop the others:
  the task goes on and exits 1 at the end, and the retry takes only the objects not yet reported.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any

from grayscale_task.errors import ImageRejected
from grayscale_task.settings import TaskSettings

if TYPE_CHECKING:
    from pipeline_common.contracts import S3Location
    from pipeline_common.contracts.image import ImageProcessingResult

EXIT_PROCESSED = 0
EXIT_CRASHED = 1
EXIT_REJECTED = 2


class ObjectAbandoned(Exception):
    """A batch's main thread reported this object (past its time limit): its worker stops at the
    next stage and reports nothing."""


@dataclass
class Progress:
    """What is known so far, so a FAILED message carries everything learned before the failure."""

    timings_ms: dict[str, float] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    current: str = "task"  # the stage running now (a per-object timeout names it)
    # Batched mode: the batch's one turn at the CPU (decode, convert, encode), the time spent
    # waiting for it (not the object's own time), and the main thread's word to stop.
    cpu_lock: threading.Lock | None = None
    waited_s: float = 0.0
    waiting_since: float | None = None
    abandoned: bool = False

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self.abandoned:
            raise ObjectAbandoned(name)
        self.current = name
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings_ms[name] = round((time.perf_counter() - start) * 1000.0, 3)

    @contextmanager
    def cpu_turn(self) -> Iterator[None]:
        """Hold the batch's turn at the CPU (no-op outside a batch)."""
        if self.cpu_lock is None:
            yield
            return
        self.waiting_since = time.monotonic()
        with self.cpu_lock:
            self.waited_s += time.monotonic() - self.waiting_since
            self.waiting_since = None
            yield

    def active_seconds(self, started: float, now: float) -> float:
        """Seconds since ``started`` (monotonic) not spent waiting for the CPU turn."""
        waiting = self.waiting_since
        return now - started - self.waited_s - (now - waiting if waiting is not None else 0.0)

    def result(self, **fields: Any) -> ImageProcessingResult:
        from pipeline_common.contracts.image import ImageProcessingResult

        timings = dict(self.timings_ms)
        timings["total"] = round(sum(timings.values()), 3)
        return ImageProcessingResult(timings_ms=timings, **self.facts, **fields)


class ObjectTimedOut(ImageRejected):
    """One object took longer than OBJECT_TIMEOUT_SECONDS: it fails alone, like a bad input."""


@contextmanager
def object_deadline(seconds: int, progress: Progress) -> Iterator[None]:
    """Interrupt the object after ``seconds`` (0: no limit). The alarm is delivered between
    Python bytecodes, so a single native call (one decode) finishes first; the whole task's
    limit is the state machine's."""
    if seconds <= 0:
        yield
        return

    def _expired(signum: int, frame: FrameType | None) -> None:
        raise ObjectTimedOut(
            progress.current, f"processing took longer than the {seconds} s allowed per object"
        )

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def setup(services: tuple[str, ...] = ("s3", "sqs")) -> None:
    """Create the task's clients (one per service, kept for every object: their connections are
    reused) and load the codecs and the kernel, so ``download`` times the transfer only."""
    from pipeline_common.aws import client

    for service in services:
        client(service)
    import grayscale_task.convert  # numpy, Pillow and the native kernel
    import grayscale_task.decode  # noqa: F401


def process(
    settings: TaskSettings, source: S3Location, progress: Progress, correlation_id: str | None
) -> S3Location:
    """Run every stage; returns where the output went. Raises ``ImageRejected`` for bad input."""
    from grayscale_task.convert import convert, resolve_threads
    from grayscale_task.decode import decode
    from grayscale_task.download import download
    from grayscale_task.encode import encode
    from grayscale_task.upload import output_key, upload

    with progress.stage("download"):
        data = download(source, max_bytes=settings.max_object_bytes)
    progress.facts["input_bytes"] = len(data)

    with progress.cpu_turn():
        with progress.stage("decode"):
            decoded = decode(
                data, max_pixels=settings.max_image_pixels, jpeg_luma=settings.jpeg_luma_decode
            )
        del data  # the compressed bytes are not needed past this point; free them early
        progress.facts.update(format=decoded.format, mode=decoded.mode)

        with progress.stage("convert"):
            gray = convert(decoded, threads=resolve_threads(settings.grayscale_threads))
        width, height = gray.image.size  # after orientation: what a viewer shows
        progress.facts.update(
            width=width, height=height, output_mode=gray.image.mode, threads=gray.threads
        )
        del decoded

        with progress.stage("encode"):
            encoded = encode(
                gray.image,
                progress.facts["format"],
                jpeg_quality=settings.jpeg_quality,
                png_compress_level=settings.png_compress_level,
            )
        del gray  # only the encoded bytes leave the turn
    progress.facts["output_bytes"] = len(encoded.data)

    with progress.stage("upload"):
        return upload(
            encoded,
            bucket=settings.output_bucket,
            key=output_key(source.key, settings.output_prefix),
            source=source,
            correlation_id=correlation_id,
        )


def process_object(
    settings: TaskSettings,
    source: S3Location,
    correlation_id: str | None,
    progress: Progress,
    *,
    alarm_seconds: int = 0,
) -> ImageProcessingResult:
    """One object to its result: SUCCEEDED, or FAILED when the input is rejected (or timed out by
    ``alarm_seconds``: per-object mode, main thread only; a batch's main thread times its
    objects). Anything else (an AWS error, a bug) propagates: the object is not reported here."""
    from pipeline_common.contracts.image import ImageStatus

    common = {"correlation_id": correlation_id, "input": source}
    try:
        with object_deadline(alarm_seconds, progress):
            output = process(settings, source, progress, correlation_id)
    except ImageRejected as rejected:
        return progress.result(
            status=ImageStatus.FAILED, stage=rejected.stage, reason=rejected.reason, **common
        )
    return progress.result(status=ImageStatus.SUCCEEDED, stage="completed", output=output, **common)


def run(settings: TaskSettings) -> int:
    """Per-object mode."""
    from grayscale_task.log import logger
    from pipeline_common.contracts import S3Location
    from pipeline_common.contracts.image import ImageStatus

    assert settings.input_bucket is not None
    assert settings.input_key is not None
    source = S3Location(
        bucket=settings.input_bucket, key=settings.input_key, version_id=settings.input_version_id
    )
    progress = Progress()
    with progress.stage("setup"):
        setup()
    result = process_object(
        settings,
        source,
        settings.correlation_id,
        progress,
        alarm_seconds=settings.object_timeout_seconds,
    )
    report(settings, result)
    if result.status == ImageStatus.FAILED:
        logger.warning("input rejected", extra={"stage": result.stage, "reason": result.reason})
        return EXIT_REJECTED
    logger.info(
        "image processed",
        extra={"output": result.output and result.output.uri, "timings_ms": result.timings_ms},
    )
    return EXIT_PROCESSED


def report(settings: TaskSettings, result: ImageProcessingResult) -> None:
    from grayscale_task.report import send_result, store_result

    if settings.result_sidecar_prefix:
        store_result(settings.output_bucket, settings.result_sidecar_prefix, result)
    send_result(settings.metrics_queue_url, result)


def main() -> int:
    from pydantic import ValidationError

    from grayscale_task.log import logger

    try:
        settings = TaskSettings()  # type: ignore[call-arg]  # values come from the environment
    except ValidationError as exc:
        logger.error("invalid task environment", extra={"errors": exc.errors(include_url=False)})
        return EXIT_CRASHED
    logger.set_correlation_id(settings.correlation_id)
    if settings.is_batch:
        logger.append_keys(batch_id=settings.batch_id, manifest_key=settings.manifest_key)
    else:
        logger.append_keys(input_bucket=settings.input_bucket, input_key=settings.input_key)
    try:
        if settings.is_batch:
            from grayscale_task.batch import run_batch

            return run_batch(settings)
        return run(settings)
    except Exception:
        logger.exception("grayscale task crashed")
        return EXIT_CRASHED
