"""The whole task: one object (per-object mode) or every object of a batch's manifest (batched
mode), stages in order, each timed, one result message per object, and the exit code that tells
the state machine what happened.

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
    from pipeline_common.contracts.image import ImageBatchManifest, ImageProcessingResult

EXIT_PROCESSED = 0
EXIT_CRASHED = 1
EXIT_REJECTED = 2


@dataclass
class Progress:
    """What is known so far, so a FAILED message carries everything learned before the failure."""

    timings_ms: dict[str, float] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    current: str = "task"  # the stage running now (a per-object timeout names it)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.current = name
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings_ms[name] = round((time.perf_counter() - start) * 1000.0, 3)

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


def setup() -> None:
    """Create the task's clients (one per service, kept for every object: their connections are
    reused) and load the codecs and the kernel, so ``download`` times the transfer only."""
    from pipeline_common.aws import client

    client("s3")
    client("sqs")
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
) -> ImageProcessingResult:
    """One object to its result: SUCCEEDED, or FAILED when the input is rejected (or timed out).
    Anything else (an AWS error, a bug) propagates: the object is not reported here."""
    from pipeline_common.contracts.image import ImageStatus

    common = {"correlation_id": correlation_id, "input": source}
    try:
        with object_deadline(settings.object_timeout_seconds, progress):
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
    result = process_object(settings, source, settings.correlation_id, progress)
    _report(settings, result)
    if result.status == ImageStatus.FAILED:
        logger.warning("input rejected", extra={"stage": result.stage, "reason": result.reason})
        return EXIT_REJECTED
    logger.info(
        "image processed",
        extra={"output": result.output and result.output.uri, "timings_ms": result.timings_ms},
    )
    return EXIT_PROCESSED


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


def run_batch(settings: TaskSettings) -> int:
    """Batched mode: every object of the manifest that this batch may claim, one at a time with
    the same clients (and their open connections)."""
    from grayscale_task import claims
    from grayscale_task.log import logger

    assert settings.claims_table is not None
    assert settings.batch_id is not None
    started = time.perf_counter()
    setup_started = started
    setup()
    setup_ms = (time.perf_counter() - setup_started) * 1000.0
    try:
        manifest = read_manifest(settings)
    except ImageRejected as rejected:
        logger.error("batch manifest rejected", extra={"reason": rejected.reason})
        return EXIT_REJECTED

    counts = {"SUCCEEDED": 0, "FAILED": 0, "skipped": 0, "crashed": 0}
    for item in manifest.objects:
        log = {"key": item.key, "object_id": item.correlation_id}
        try:
            if not claims.claim(
                settings.claims_table,
                item.correlation_id,
                batch_id=settings.batch_id,
                ttl_days=settings.claim_ttl_days,
            ):
                logger.info("object already reported or owned by another batch", extra=log)
                counts["skipped"] += 1
                continue
            result = process_object(settings, item.location, item.correlation_id, Progress())
            _report(settings, result)
            claims.finish(
                settings.claims_table,
                item.correlation_id,
                batch_id=settings.batch_id,
                status=result.status.value,
            )
        except Exception:
            # Not this object's fault as far as we know: the others go on, the retry takes it.
            logger.exception("object crashed", extra=log)
            counts["crashed"] += 1
            continue
        counts[result.status.value] += 1
    logger.info(
        "batch done",
        extra={
            "objects": len(manifest.objects),
            **counts,
            "setup_ms": round(setup_ms, 3),
            "elapsed_ms": round((time.perf_counter() - started) * 1000.0, 3),
        },
    )
    return EXIT_CRASHED if counts["crashed"] else EXIT_PROCESSED


def _report(settings: TaskSettings, result: ImageProcessingResult) -> None:
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
        return run_batch(settings) if settings.is_batch else run(settings)
    except Exception:
        logger.exception("grayscale task crashed")
        return EXIT_CRASHED
