"""Lambda functions as local worker processes.

Each function gets its own pool of long-lived worker processes (a warm Lambda execution
environment each): its own environment variables, its own ``sys.path`` (CodeUri first, then the
layers) and its own module cache, so two functions never see each other's ``app`` module or
settings. The handler is imported once per worker (the cold start); invocations then reuse it.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from localcloud.containers import spawn
from localcloud.errors import LocalCloudError

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


class FunctionError(LocalCloudError):
    """The handler raised (or timed out): what Lambda reports as a function error."""

    def __init__(self, function: str, error_type: str, message: str, trace: list[str]) -> None:
        super().__init__(f"{function}: {error_type}: {message}")
        self.function = function
        self.error_type = error_type
        self.error_message = message
        self.trace = trace

    def payload(self) -> dict[str, Any]:
        return {
            "errorType": self.error_type,
            "errorMessage": self.error_message,
            "stackTrace": self.trace,
        }


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    function_name: str
    handler: str
    code_dir: Path
    layer_dirs: tuple[Path, ...]
    environment: dict[str, str]
    timeout_seconds: float = 3.0
    memory_mb: int = 128
    max_concurrency: int = 4
    arn: str = ""
    event_invoke: dict[str, Any] = field(default_factory=dict)
    # The execution role's keys for a new environment, and when to retire it (before they
    # expire, as Lambda does); None: the environment above carries the credentials.
    credentials: Callable[[], tuple[dict[str, str], float]] | None = None


class _Worker:
    """One warm execution environment: a ``python -m localcloud.lambda_worker`` process."""

    def __init__(self, spec: FunctionSpec, log_path: Path | None) -> None:
        parent_sock, child_sock = socket.socketpair()
        payload = {
            "function_name": spec.function_name,
            "arn": spec.arn,
            "memory_mb": spec.memory_mb,
            "handler": spec.handler,
            "code_dir": str(spec.code_dir),
            "layer_dirs": [str(p) for p in spec.layer_dirs],
        }
        env = dict(spec.environment)
        self.retire_at = float("inf")
        if spec.credentials is not None:
            keys, self.retire_at = spec.credentials()
            env.update(keys)
        env["PYTHONPATH"] = str(_PACKAGE_ROOT)  # only to import the worker; removed at start
        log_file = open(log_path, "ab") if log_path else None  # noqa: SIM115
        try:
            self.process = spawn(
                [sys.executable, "-m", "localcloud.lambda_worker", str(child_sock.fileno())],
                pass_fds=[child_sock.fileno()],
                cwd=spec.code_dir,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT if log_file else None,
            )
        finally:
            child_sock.close()
            if log_file:
                log_file.close()
        self.conn = Connection(parent_sock.detach())
        self.conn.send(payload)
        status, detail = self.conn.recv() if self.conn.poll(120) else ("init_error", None)
        if status != "ready":
            self.stop()
            detail = detail or {
                "errorType": "Runtime.InitTimeout",
                "errorMessage": "",
                "stackTrace": [],
            }
            raise FunctionError(
                spec.logical_id,
                f"Runtime.ImportModuleError ({detail['errorType']})",
                detail["errorMessage"],
                detail["stackTrace"],
            )

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.send(None)
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=2)
        with contextlib.suppress(Exception):
            self.conn.close()


class FunctionPool:
    """Warm workers of one function; grows up to ``max_concurrency`` under concurrent load."""

    def __init__(self, spec: FunctionSpec, log_dir: Path | None) -> None:
        self.spec = spec
        self._log_path = log_dir / f"{spec.logical_id}.log" if log_dir else None
        self._idle: list[_Worker] = []
        self._count = 0
        self._cond = threading.Condition()
        self._closed = False
        self.invocations = 0
        self.errors = 0

    @contextlib.contextmanager
    def _worker(self) -> Iterator[_Worker]:
        with self._cond:
            while not self._idle and self._count >= self.spec.max_concurrency:
                self._cond.wait()
            if self._closed:
                raise LocalCloudError(f"{self.spec.logical_id}: the local cloud is stopping")
            worker = self._idle.pop() if self._idle else None
            retired = None
            if worker is not None and time.time() >= worker.retire_at:
                # Its role's keys are about to expire: a new environment takes its place.
                retired, worker = worker, None
            elif worker is None:
                self._count += 1
        if retired is not None:
            retired.stop()
        try:
            if worker is None:
                try:
                    worker = _Worker(self.spec, self._log_path)
                except Exception:
                    with self._cond:
                        self._count -= 1
                        self._cond.notify()
                    raise
            yield worker
        except BaseException:
            # A worker that failed mid-invocation (timeout, crash) is not reused.
            if worker is not None:
                worker.stop()
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise
        else:
            with self._cond:
                self._idle.append(worker)
                self._cond.notify()

    def invoke(self, event: Any) -> Any:
        request_id = str(uuid.uuid4())
        deadline = time.time() + self.spec.timeout_seconds
        self.invocations += 1
        try:
            with self._worker() as worker:
                worker.conn.send((json.dumps(event), request_id, deadline))
                if not worker.conn.poll(self.spec.timeout_seconds):
                    raise _Timeout()
                status, payload = worker.conn.recv()
        except _Timeout:
            self.errors += 1
            raise FunctionError(
                self.spec.logical_id,
                "Sandbox.Timedout",
                f"Task timed out after {self.spec.timeout_seconds:.2f} seconds",
                [],
            ) from None
        except (EOFError, BrokenPipeError, ConnectionResetError) as exc:
            self.errors += 1
            raise FunctionError(
                self.spec.logical_id, "Runtime.ExitError", f"worker process died: {exc}", []
            ) from exc
        if status == "ok":
            return json.loads(payload)
        self.errors += 1
        raise FunctionError(
            self.spec.logical_id,
            payload["errorType"],
            payload["errorMessage"],
            payload["stackTrace"],
        )

    def close(self) -> None:
        with self._cond:
            self._closed = True
            workers, self._idle = self._idle, []
            self._cond.notify_all()
        for worker in workers:
            worker.stop()


class _Timeout(Exception):
    pass


class FunctionRuntime:
    """All function pools of the local cloud, by logical id."""

    def __init__(self, log_dir: Path | None) -> None:
        self._log_dir = log_dir
        self._pools: dict[str, FunctionPool] = {}
        if log_dir:
            log_dir.mkdir(parents=True, exist_ok=True)

    def register(self, spec: FunctionSpec) -> None:
        self._pools[spec.logical_id] = FunctionPool(spec, self._log_dir)

    def spec(self, logical_id: str) -> FunctionSpec:
        return self.pool(logical_id).spec

    def pool(self, logical_id: str) -> FunctionPool:
        try:
            return self._pools[logical_id]
        except KeyError:
            raise LocalCloudError(f"no function {logical_id!r} in the template") from None

    def invoke(self, logical_id: str, event: Any) -> Any:
        return self.pool(logical_id).invoke(event)

    @property
    def functions(self) -> list[str]:
        return sorted(self._pools)

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
