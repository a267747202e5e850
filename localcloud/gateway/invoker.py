"""Calling the blocking ``invoke`` from the event loop, with API Gateway's integration timeout."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from localcloud.gateway.errors import FunctionError, IntegrationTimeout

logger = logging.getLogger("localcloud.gateway")

Invoke = Callable[[str, dict], Any]


class Invoker:
    def __init__(self, invoke: Invoke, executor: Executor) -> None:
        self._invoke = invoke
        self._executor = executor

    async def __call__(self, function: str, event: dict, *, timeout: float) -> Any:
        """The handler's return value; ``FunctionError`` if it raised, ``IntegrationTimeout``.

        On timeout the call keeps running in its thread (a Lambda also runs to its own timeout
        after API Gateway gave up); only the waiting stops.
        """
        loop = asyncio.get_running_loop()
        call = loop.run_in_executor(self._executor, self._invoke, function, event)
        try:
            return await asyncio.wait_for(call, timeout)
        except TimeoutError as exc:
            raise IntegrationTimeout(f"{function} did not answer within {timeout:g} s") from exc
        except FunctionError:
            raise
        except Exception as exc:
            # The runtime itself failed (a worker died, a bad payload): to a client this is the
            # same failed integration, but the stack trace belongs in the local cloud's log.
            logger.exception("invoking %s failed outside the handler", function)
            raise FunctionError(type(exc).__name__, str(exc)) from exc
