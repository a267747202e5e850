"""Publishing results to the ResultsTopic (SNS FIFO), which fans out to ResultsQueue.fifo and
the clients' own queues (filter policy on the ``client_id`` message attribute).

The publisher is the common layer's, shared with the functions that end the jobs no worker
could end (the request dead-letter queue consumer and the sweeper), so every result is
published the same way."""

from __future__ import annotations

from pipeline_common.job_endings import ResultPublisher

__all__ = ["ResultPublisher"]
