"""Powertools logger, tracer and metrics, created once per process.

Service name, metrics namespace, log level and tracing come from the standard ``POWERTOOLS_*``
variables (set in template.yaml's Globals for functions, in the task definitions for containers),
so nothing here is configured twice.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()

__all__ = ["logger", "metrics", "tracer"]
