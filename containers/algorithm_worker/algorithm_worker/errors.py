"""Typed errors of the worker, split by what must happen to the message.

- ``JobInputError``: the job itself cannot succeed (bad DICOM, unknown instance, data the decoder
  or the algorithm fails on, data over the memory budget...). The job is FAILED with the error's
  message as reason, the result published, the message deleted.
- ``InvalidJobMessage``: the message is not a job at all; it is left for the queue's DLQ.
- Anything else is transient (PACS or AWS unavailable): the message is not deleted and comes
  back after its visibility timeout; on the last receive the queue allows (``MAX_RECEIVE_COUNT``)
  the worker fails the job instead, and a job whose worker died every time is failed by the
  consumer of the request dead-letter queue.
"""

from __future__ import annotations


class JobInputError(Exception):
    """The job's input cannot be processed; ``str(error)`` is the FAILED reason."""


class InstanceNotFound(JobInputError):
    pass


class PacsRefused(JobInputError):
    pass


class NotDicom(JobInputError):
    pass


class UnreadablePixels(JobInputError):
    pass


class SeriesTooLarge(JobInputError):
    pass


class WrongAlgorithm(JobInputError):
    pass


class InvalidJobMessage(Exception):
    pass


class PacsUnavailable(Exception):
    """The PACS API or its storage did not answer usefully; worth retrying later."""


class OverMemoryBudget(SeriesTooLarge):
    """The job's data would not fit in the worker's memory (task memory less what is reserved)."""


class UnprocessableData(JobInputError):
    """Decoding or the algorithm failed on this data; retrying the same data cannot help."""
