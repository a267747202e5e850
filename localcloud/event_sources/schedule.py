"""Schedule -> Lambda: a SAM ``Schedule`` event (an EventBridge rule with a ``rate(...)``
expression): the function is invoked asynchronously with a ``Scheduled Event`` every period, the
first one period after the start, as EventBridge does. ``cron(...)`` is refused."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from localcloud.event_sources.poller import Invoke, Poller, log
from localcloud.event_sources.wiring import EventSourceType, SamEvent, Wiring
from localcloud.runtime import FunctionError

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86_400}


def rate_seconds(expression: str) -> int | None:
    """Seconds of an EventBridge ``rate(N unit)`` expression; None for anything else."""
    found = _RATE.match(expression.strip())
    if not found or int(found.group(1)) < 1:
        return None
    return int(found.group(1)) * _UNIT_SECONDS[found.group(2).rstrip("s")]


class ScheduleEventSource(Poller):
    """A scheduled rule: an EventBridge ``Scheduled Event`` every ``period_seconds``."""

    def __init__(
        self,
        *,
        invoke: Invoke,
        function: str,
        rule_arn: str,
        region: str,
        account_id: str,
        period_seconds: float,
    ) -> None:
        super().__init__()
        self.name = f"schedule->{function}"
        self.invoke = invoke
        self.function = function
        self.rule_arn = rule_arn
        self.region = region
        self.account_id = account_id
        self.period = period_seconds
        self.delivered = 0

    def event(self) -> dict[str, Any]:
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.account_id,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [self.rule_arn],
            "detail": {},
        }

    def poll_once(self) -> None:
        if self._stop.wait(self.period):
            return
        try:
            self.invoke(self.function, self.event())
            self.delivered += 1
        except FunctionError as exc:  # EventBridge retries; the next period does the same
            log.warning("%s: scheduled invocation failed: %s", self.name, exc)


def wire(wiring: Wiring, event: SamEvent) -> ScheduleEventSource:
    function = event.function.logical_id
    return ScheduleEventSource(
        invoke=wiring.runtime.invoke,
        function=function,
        rule_arn=f"arn:aws:events:{wiring.region}:{wiring.account_id}:rule/"
        f"{wiring.stack_name}-{function}{event.name}",
        region=wiring.region,
        account_id=wiring.account_id,
        period_seconds=float(rate_seconds(str(event.props["Schedule"])) or 0),
    )


def refusal(props: dict[str, Any]) -> str | None:
    if rate_seconds(str(props.get("Schedule", ""))) is None:
        return "Schedule other than rate()"
    return None


SOURCE = EventSourceType("Schedule", wire, refusal)
