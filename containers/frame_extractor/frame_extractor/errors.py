"""Typed errors of the frame extractor and the one place that maps them to exit codes.

Exit codes are the contract with the ingest state machine: 0 done, 2 input rejected (the
``video.failed`` message is already sent), anything else a crash the state machine reports."""

from __future__ import annotations

EXIT_OK = 0
EXIT_INPUT_REJECTED = 2
EXIT_CRASH = 1


class ExtractorError(Exception):
    """Base of the extractor's domain errors."""


class InputRejected(ExtractorError):
    """The input is not a usable video: reported as a video-level failure, never retried."""


class EmptyVideo(InputRejected):
    pass


class UnsupportedExtension(InputRejected):
    pass


class UndecodableVideo(InputRejected):
    pass


class InputMissing(InputRejected):
    pass


class TruncatedVideo(InputRejected):
    """Decoding stopped early: the frames before the damage were sent, the rest is reported."""


class StreamWriteError(ExtractorError):
    """Kinesis kept refusing records after every retry: a crash (the task may be re-run)."""


def exit_code(exc: BaseException | None) -> int:
    if exc is None:
        return EXIT_OK
    if isinstance(exc, InputRejected):
        return EXIT_INPUT_REJECTED
    return EXIT_CRASH
