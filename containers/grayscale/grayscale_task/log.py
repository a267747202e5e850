"""The task's logger: Powertools' structured JSON logger alone. ``pipeline_common.observability``
also builds a Tracer, whose construction imports the X-Ray SDK (about 250 ms of a ~700 ms start
measured here) even with tracing disabled, and the task does not trace."""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger()
