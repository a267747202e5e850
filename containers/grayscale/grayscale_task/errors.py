"""Typed outcomes of the task, mapped to exit codes in one place (``task.exit_code_for``)."""

from __future__ import annotations


class ImageRejected(Exception):
    """The input cannot be processed (not an image, corrupt, too large, gone): reported as FAILED
    with this reason, exit code 2, never retried."""

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(reason)
        self.stage = stage
        self.reason = reason
