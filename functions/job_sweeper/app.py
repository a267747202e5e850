"""JobSweeperFunction: on a schedule, fails the RUNNING jobs whose worker stopped beating
(see ``job_sweeper_logic``) and publishes their FAILED results like the worker does."""

from __future__ import annotations

from dataclasses import asdict
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from job_sweeper_logic import sweep
from job_sweeper_settings import JobSweeperSettings

from pipeline_common.job_endings import JobEnder
from pipeline_common.observability import logger, metrics, tracer

settings = JobSweeperSettings()  # type: ignore[call-arg]  # values come from the environment


@cache
def ender() -> JobEnder:  # clients on first use, not at import
    return JobEnder(settings.jobs_table, settings.results_topic_arn, ttl_days=settings.job_ttl_days)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict[str, Any]:
    report = sweep(
        settings=settings,
        ender=ender(),
        seconds_left=lambda: context.get_remaining_time_in_millis() / 1000,
    )
    return asdict(report)
