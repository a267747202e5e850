"""Shared by the gateway tests: a stand-in for the function runtime and a condition wait.

The gateway is what is under test, so the Lambda side is plain Python: each "function" is a
callable taking the event, recorded on every call; an exception it raises reaches the gateway
as ``FunctionError``, the way the local cloud's worker processes report a handler that raised.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from localcloud.gateway import FunctionError

Handler = Callable[[dict], Any]


class FakeFunctions:
    def __init__(self, **handlers: Handler) -> None:
        self.handlers: dict[str, Handler] = dict(handlers)
        self.events: dict[str, list[dict]] = defaultdict(list)
        self._lock = threading.Lock()

    def __call__(self, function: str, event: dict) -> Any:
        with self._lock:
            self.events[function].append(copy.deepcopy(event))
        try:
            return self.handlers[function](event)
        except Exception as exc:
            raise FunctionError(type(exc).__name__, str(exc)) from exc

    def calls(self, function: str) -> list[dict]:
        with self._lock:
            return list(self.events[function])


def wait_until(condition: Callable[[], Any], timeout: float = 5.0) -> Any:
    """The condition's first truthy value; fails the test if it never comes."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)
