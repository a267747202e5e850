"""The inside of a local Lambda execution environment (started by ``runtime._Worker``).

It imports the handler once (the cold start), then answers invocations sent over the inherited
socket until told to stop. Its ``sys.path`` is what Lambda gives a function: the code folder,
then the layers, then the runtime's libraries.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any


class LambdaContext:
    """The subset of Lambda's context object that handlers and Powertools use."""

    def __init__(self, spec: dict[str, Any], request_id: str, deadline: float) -> None:
        self.function_name = spec["function_name"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec["arn"]
        self.memory_limit_in_mb = spec["memory_mb"]
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"local/{os.getpid()}"
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc),
    }


def main(fd: int) -> None:
    conn = Connection(fd)
    spec = conn.recv()
    package_root = os.environ.pop("PYTHONPATH", "")
    sys.path[:] = [spec["code_dir"], *spec["layer_dirs"]] + [
        p for p in sys.path if p and p != package_root and os.path.abspath(p) != os.getcwd()
    ]
    module_name, _, handler_name = spec["handler"].rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), handler_name)
    except Exception as exc:  # Lambda's Runtime.ImportModuleError
        traceback.print_exc()
        conn.send(("init_error", _error(exc)))
        return
    conn.send(("ready", None))
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        event_json, request_id, deadline = message
        try:
            result = handler(json.loads(event_json), LambdaContext(spec, request_id, deadline))
            reply: tuple[str, Any] = ("ok", json.dumps(result))
        except Exception as exc:
            traceback.print_exc()
            reply = ("error", _error(exc))
        sys.stdout.flush()
        sys.stderr.flush()
        conn.send(reply)


if __name__ == "__main__":
    main(int(sys.argv[1]))
