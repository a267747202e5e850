"""The whole task: stages in order, each timed, one result message, and the exit code that tells
the state machine what happened.

Exit codes (the state machine's Catch reads them from the stopped task):
- 0: processed, SUCCEEDED message sent.
- 2: input rejected (not an image, corrupt, bomb, empty, gone), FAILED message sent: not retried,
  and the state machine sends nothing more.
- 1: crash (bad environment, AWS error, bug): no message from here; the state machine runs the
  task again (twice at most), then reports it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from grayscale_task.convert import convert, resolve_threads
from grayscale_task.decode import decode
from grayscale_task.download import download
from grayscale_task.encode import encode
from grayscale_task.errors import ImageRejected
from grayscale_task.report import send_result, store_result
from grayscale_task.settings import TaskSettings
from grayscale_task.upload import output_key, upload
from pipeline_common.contracts import S3Location
from pipeline_common.contracts.image import ImageProcessingResult, ImageStatus
from pipeline_common.observability import logger

EXIT_PROCESSED = 0
EXIT_CRASHED = 1
EXIT_REJECTED = 2


@dataclass
class Progress:
    """What is known so far, so a FAILED message carries everything learned before the failure."""

    timings_ms: dict[str, float] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings_ms[name] = round((time.perf_counter() - start) * 1000.0, 3)

    def result(self, **fields: Any) -> ImageProcessingResult:
        timings = dict(self.timings_ms)
        timings["total"] = round(sum(timings.values()), 3)
        return ImageProcessingResult(timings_ms=timings, **self.facts, **fields)


def process(settings: TaskSettings, source: S3Location, progress: Progress) -> S3Location:
    """Run every stage; returns where the output went. Raises ``ImageRejected`` for bad input."""
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
            correlation_id=settings.correlation_id,
        )


def run(settings: TaskSettings) -> int:
    source = S3Location(
        bucket=settings.input_bucket, key=settings.input_key, version_id=settings.input_version_id
    )
    progress = Progress()
    common = {"correlation_id": settings.correlation_id, "input": source}
    try:
        output = process(settings, source, progress)
    except ImageRejected as rejected:
        result = progress.result(
            status=ImageStatus.FAILED, stage=rejected.stage, reason=rejected.reason, **common
        )
        _report(settings, result)
        logger.warning("input rejected", extra={"stage": rejected.stage, "reason": rejected.reason})
        return EXIT_REJECTED
    result = progress.result(
        status=ImageStatus.SUCCEEDED, stage="completed", output=output, **common
    )
    _report(settings, result)
    logger.info(
        "image processed",
        extra={"output": output.uri, "timings_ms": result.timings_ms, "threads": result.threads},
    )
    return EXIT_PROCESSED


def _report(settings: TaskSettings, result: ImageProcessingResult) -> None:
    if settings.result_sidecar_prefix:
        store_result(settings.output_bucket, settings.result_sidecar_prefix, result)
    send_result(settings.metrics_queue_url, result)


def main() -> int:
    try:
        settings = TaskSettings()  # type: ignore[call-arg]  # values come from the environment
    except ValidationError as exc:
        logger.error("invalid task environment", extra={"errors": exc.errors(include_url=False)})
        return EXIT_CRASHED
    logger.set_correlation_id(settings.correlation_id)
    logger.append_keys(input_bucket=settings.input_bucket, input_key=settings.input_key)
    try:
        return run(settings)
    except Exception:
        logger.exception("grayscale task crashed")
        return EXIT_CRASHED
