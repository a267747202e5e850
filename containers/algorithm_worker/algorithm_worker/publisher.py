"""Publishing results to the ResultsTopic (SNS FIFO), which delivers to ResultsQueue.fifo (the
WebSocket push). Poll clients read JobsTable instead (``GET /results``), so the topic has no
per-client subscription; the ``client_id`` attribute stays for any filtered subscriber.

The publisher is the common layer's, shared with the functions that end the jobs no worker
could end (the request dead-letter queue consumer and the sweeper), so every result is
published the same way."""

from __future__ import annotations

from pipeline_common.job_endings import ResultPublisher

__all__ = ["ResultPublisher"]
