"""ECS on one machine: task definitions' containers run as local processes.

A container is located by its name: ``containers/<name>/`` holds its ``Dockerfile``, whose
exec-form ``ENTRYPOINT``/``CMD`` is the command to run (``python`` becomes this interpreter), with
``containers/<name>`` as working directory and on ``PYTHONPATH`` together with the common layer —
what the image's ``COPY`` lines put side by side. Nothing about a container is declared twice.

- ``TaskLauncher``: every ``RunTask`` (Step Functions' ``ecs:runTask.sync`` included) starts the
  process with the container definition's environment plus the overrides; the task stays RUNNING
  until the process exits, then becomes STOPPED with the container's exit code.
- ``ServiceManager``: keeps ``desiredCount`` processes per ECS service, replaces ones that exit,
  and gives each a free host port for its container port (``PORT``), like awsvpc networking.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.credentials import CREDENTIAL_VARIABLES
from localcloud.errors import TemplateError
from localcloud.moto_server import free_port

log = logging.getLogger("localcloud.ecs")


def dockerfile_command(dockerfile: Path) -> list[str]:
    """``ENTRYPOINT`` + ``CMD`` of the final stage, both in exec (JSON) form."""
    entrypoint: list[str] = []
    cmd: list[str] = []
    text = dockerfile.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        stripped = line.strip()
        keyword, _, rest = stripped.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            entrypoint, cmd = [], []
        elif keyword in ("CMD", "ENTRYPOINT"):
            rest = rest.strip()
            try:
                argv = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
            except json.JSONDecodeError as exc:
                raise TemplateError(f"{dockerfile}: {keyword} is not valid exec form") from exc
            if keyword == "CMD":
                cmd = argv
            else:
                entrypoint = argv
    argv = entrypoint + cmd
    if not argv:
        raise TemplateError(f"{dockerfile}: no CMD or ENTRYPOINT")
    if argv[0] in ("python", "python3") or argv[0].startswith("python3."):
        argv = [sys.executable, *argv[1:]]
    return argv


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the local cloud dies without stopping it
    (killed, crashed), so no task keeps polling a port that a later local cloud may reuse."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class _Spawner:
    """Starts every child from one thread that lives as long as the process: Linux sends the
    parent-death signal when the *thread* that forked a child ends, and request threads end."""

    def __init__(self) -> None:
        self._requests: queue.Queue[tuple[Any, list[Any], threading.Event]] = queue.Queue()
        threading.Thread(target=self._run, name="localcloud-spawner", daemon=True).start()

    def _run(self) -> None:
        while True:
            start, box, done = self._requests.get()
            try:
                box.append(start())
            except BaseException as exc:  # handed back to the caller's thread
                box.append(exc)
            finally:
                done.set()

    def popen(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        box: list[Any] = []
        done = threading.Event()
        self._requests.put(
            (lambda: subprocess.Popen(argv, preexec_fn=_die_with_parent, **kwargs), box, done)
        )
        done.wait()
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]  # type: ignore[no-any-return]


_spawner: _Spawner | None = None
_spawner_lock = threading.Lock()


def spawn(argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen`` for every process the local cloud starts (functions, tasks)."""
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = _Spawner()
    return _spawner.popen(argv, **kwargs)


@dataclass
class ContainerSpec:
    name: str
    command: list[str]
    workdir: Path
    pythonpath: list[Path]
    environment: dict[str, str]
    port_mappings: list[int] = field(default_factory=list)
    essential: bool = True


class ContainerCatalog:
    """Resolves a task definition's container definitions to local specs."""

    def __init__(self, root: Path, common_paths: list[Path], base_env: dict[str, str]) -> None:
        self.root = root
        self.common_paths = common_paths
        self.base_env = base_env
        self.task_definitions: dict[str, list[ContainerSpec]] = {}

    def container(self, definition: dict[str, Any]) -> ContainerSpec:
        name = definition["Name"]
        folder = self.root / "containers" / name
        dockerfile = folder / "Dockerfile"
        if not dockerfile.is_file():
            raise TemplateError(
                f"container {name!r}: expected its code and Dockerfile in {folder} "
                "(the local cloud finds a container by its name)"
            )
        env = {e["Name"]: str(e["Value"]) for e in definition.get("Environment", [])}
        ports = [int(p["ContainerPort"]) for p in definition.get("PortMappings", [])]
        return ContainerSpec(
            name=name,
            command=dockerfile_command(dockerfile),
            workdir=folder,
            pythonpath=[folder, *self.common_paths],
            environment=env,
            port_mappings=ports,
            essential=definition.get("Essential", True),
        )

    def register(
        self,
        task_definition_arn: str,
        definitions: list[dict[str, Any]],
        role_environment: dict[str, str] | None = None,
    ) -> None:
        """``role_environment``: how the task reaches its task role's credentials."""
        specs = [self.container(d) for d in definitions]
        for spec in specs:
            spec.environment = {**(role_environment or {}), **spec.environment}
        self.task_definitions[task_definition_arn] = specs

    def process_env(self, spec: ContainerSpec, extra: dict[str, str]) -> dict[str, str]:
        env = dict(os.environ)
        for name in CREDENTIAL_VARIABLES:  # a task has its role's credentials, not ours
            env.pop(name, None)
        env.update(self.base_env)
        env.update(spec.environment)
        env.update(extra)
        paths = [str(p) for p in spec.pythonpath]
        env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env["PYTHONUNBUFFERED"] = "1"
        return env


class _Process:
    def __init__(self, spec: ContainerSpec, env: dict[str, str], log_path: Path) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 (closed in wait())
        self.popen = spawn(
            spec.command,
            cwd=spec.workdir,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so a stop reaches the whole process group
        )

    def wait(self) -> int:
        code = self.popen.wait()
        self._log.close()
        return code

    def terminate(self, grace_seconds: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after the grace period: what ECS's StopTask does."""
        if self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=5)


class TaskLauncher:
    """Runs the containers of tasks started with RunTask."""

    def __init__(self, catalog: ContainerCatalog, log_dir: Path) -> None:
        self.catalog = catalog
        self.log_dir = log_dir
        self._running: dict[str, _Process] = {}
        self._lock = threading.Lock()
        self.started = 0

    def on_run_task(self, backend: Any, task: Any) -> None:
        specs = self.catalog.task_definitions.get(task.task_definition_arn)
        if not specs:
            return  # a task definition of another local cloud sharing this process's moto
        spec = specs[0]
        overrides = {o.get("name"): o for o in (task.overrides or {}).get("containerOverrides", [])}
        override = overrides.get(spec.name, {})
        env_extra = {e["name"]: str(e["value"]) for e in override.get("environment", [])}
        env_extra["ECS_TASK_ARN"] = task.task_arn
        run_spec = spec
        if override.get("command"):
            run_spec = ContainerSpec(**{**spec.__dict__, "command": list(override["command"])})
        log_path = self.log_dir / f"{spec.name}-{task.id}.log"
        process = _Process(run_spec, self.catalog.process_env(run_spec, env_extra), log_path)
        with self._lock:
            self._running[task.task_arn] = process
            self.started += 1
        log.info("task %s: started %s (pid %d)", task.id, spec.name, process.popen.pid)
        threading.Thread(
            target=self._watch, args=(task, process), name=f"task:{task.id}", daemon=True
        ).start()

    def on_stop_task(self, backend: Any, task: Any) -> None:
        with self._lock:
            process = self._running.get(task.task_arn)
        if process is not None:
            process.terminate()

    def _watch(self, task: Any, process: _Process) -> None:
        code = process.wait()
        container = task.containers[0]
        container.exitCode = code
        container.last_status = "STOPPED"
        if not task.stopped_reason:
            task.stopped_reason = "Essential container in task exited"
        task.stop_code = "EssentialContainerExited"
        task.desired_status = "STOPPED"
        task.last_status = "STOPPED"
        with self._lock:
            self._running.pop(task.task_arn, None)
        log.info("task %s: exited with %d (log %s)", task.id, code, process.log_path)

    def stop_all(self) -> None:
        with self._lock:
            processes = list(self._running.values())
        for process in processes:
            process.terminate(grace_seconds=5)


@dataclass
class ServiceInstance:
    process: _Process
    host_port: int | None
    started_at: float


class ServiceManager:
    """Keeps each ECS service's desired count of container processes running."""

    def __init__(self, catalog: ContainerCatalog, ecs: Any, log_dir: Path) -> None:
        self.catalog = catalog
        self.ecs = ecs
        self.log_dir = log_dir
        self.services: dict[str, dict[str, Any]] = {}  # service arn -> description
        self.instances: dict[str, list[ServiceInstance]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.restarts = 0
        self._failures: dict[str, int] = {}
        self._retry_at: dict[str, float] = {}

    def add(self, cluster: str, service_arn: str, target_groups: list[str]) -> None:
        self.services[service_arn] = {"cluster": cluster, "target_groups": target_groups}
        self.instances[service_arn] = []

    def endpoints(self, target_group_arn: str) -> list[str]:
        """``host:port`` of the healthy-by-construction processes behind a target group."""
        with self._lock:
            return [
                f"127.0.0.1:{i.host_port}"
                for arn, info in self.services.items()
                if target_group_arn in info["target_groups"]
                for i in self.instances[arn]
                if i.host_port and i.process.popen.poll() is None
            ]

    def start(self) -> None:
        self.reconcile()
        self._thread = threading.Thread(target=self._loop, name="ecs-services", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.reconcile()
            except Exception:
                log.exception("service reconcile failed")

    def _describe_services(self) -> dict[str, dict[str, Any]]:
        """Every service's description, ten to a DescribeServices call (ECS's limit) per cluster."""
        by_cluster: dict[str, list[str]] = {}
        for service_arn, info in self.services.items():
            by_cluster.setdefault(info["cluster"], []).append(service_arn)
        described: dict[str, dict[str, Any]] = {}
        for cluster, arns in by_cluster.items():
            for start in range(0, len(arns), 10):
                page = self.ecs.describe_services(
                    cluster=cluster, services=arns[start : start + 10]
                )
                described.update({s["serviceArn"]: s for s in page["services"]})
        return described

    def reconcile(self) -> None:
        described = self._describe_services()
        for service_arn in self.services:
            service = described[service_arn]
            desired = 0 if service.get("status") != "ACTIVE" else service["desiredCount"]
            specs = self.catalog.task_definitions.get(service["taskDefinition"], [])
            with self._lock:
                alive = []
                for instance in self.instances[service_arn]:
                    code = instance.process.popen.poll()
                    if code is None:
                        alive.append(instance)
                        if time.time() - instance.started_at > 30:
                            self._failures[service_arn] = 0
                    else:
                        self.restarts += 1
                        failures = self._failures.get(service_arn, 0) + 1
                        self._failures[service_arn] = failures
                        self._retry_at[service_arn] = time.monotonic() + min(2**failures, 60)
                        log.warning(
                            "service %s: a task exited with %d; replacing it (log %s)",
                            service["serviceName"],
                            code,
                            instance.process.log_path,
                        )
                self.instances[service_arn] = alive
            failures = self._failures.get(service_arn, 0)
            if failures and time.monotonic() < self._retry_at.get(service_arn, 0):
                continue  # ECS throttles the restarts of a task that keeps failing
            while len(self.instances[service_arn]) < desired and specs:
                self._start_instance(service_arn, service["serviceName"], specs[0])
            while len(self.instances[service_arn]) > desired:
                instance = self.instances[service_arn].pop()
                instance.process.terminate()

    def _start_instance(self, service_arn: str, name: str, spec: ContainerSpec) -> None:
        extra: dict[str, str] = {}
        host_port = None
        if spec.port_mappings:
            host_port = free_port()
            extra["PORT"] = str(host_port)
        index = len(self.instances[service_arn])
        log_path = self.log_dir / f"{name}-{index}-{int(time.time())}.log"
        process = _Process(spec, self.catalog.process_env(spec, extra), log_path)
        with self._lock:
            self.instances[service_arn].append(ServiceInstance(process, host_port, time.time()))
        log.info("service %s: started task (pid %d, port %s)", name, process.popen.pid, host_port)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        with self._lock:
            instances = [i for group in self.instances.values() for i in group]
        for instance in instances:
            instance.process.terminate(grace_seconds=10)
