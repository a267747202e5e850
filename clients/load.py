"""Load the job API: N clients connected over WebSocket submit jobs and collect their pushes.

``python -m clients.load --jobs 200 --clients 4 --study S --series SE --image I [--user U]``
prints, per client, how many results arrived and whether any belonged to another client, and
the submit-to-push latency (median, p95). Every virtual client acts as the one logged-in user
(``clients.auth``: the same flags, environment and env file as ``clients.ws_client``), connects
with the one-time ticket its ``POST /clients`` answered, and is deleted at the end so the run
leaves nothing counting against the user's client cap. Submissions refused with 429 (the
per-user rate) wait and retry; the summary counts them. The e2e tests and
``bench/bench_job_latency.py`` use ``run_load`` directly (``auth`` may be an ID token).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import requests

from clients.auth import LoginError, TokenSource, add_login_arguments, login_from_args
from clients.cli import emit, run_module
from clients.env import DEFAULT_ENV_FILE, Endpoints, EnvFileError, load_env
from clients.ws_client import RateLimited, RestApi, UserFacingError, websocket_url

THROTTLED_RETRY_SECONDS = 2.0


@dataclass
class LoadReport:
    submitted: dict[str, tuple[str, str, float]] = field(
        default_factory=dict
    )  # job -> (client, algo, t)
    pushed: dict[str, list[tuple[str, dict[str, Any], float]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # job -> [(receiving client, result, t)]
    throttled: int = 0  # submissions refused with 429 and retried
    accepted: dict[str, float] = field(default_factory=dict)  # job -> t of its 202

    def latencies_ms(self) -> list[float]:
        return sorted(
            (pushes[0][2] - self.submitted[job][2]) * 1000
            for job, pushes in self.pushed.items()
            if job in self.submitted
        )

    def misdelivered(self) -> list[str]:
        return [
            job
            for job, pushes in self.pushed.items()
            for receiver, _, _ in pushes
            if job in self.submitted and self.submitted[job][0] != receiver
        ]

    def missing(self) -> list[str]:
        return [job for job in self.submitted if job not in self.pushed]

    def duplicates(self) -> list[str]:
        return [job for job, pushes in self.pushed.items() if len(pushes) > 1]

    def summary(self) -> dict[str, Any]:
        latencies = self.latencies_ms()
        return {
            "jobs": len(self.submitted),
            "pushed": len(self.pushed),
            "missing": len(self.missing()),
            "duplicates": len(self.duplicates()),
            "misdelivered": len(self.misdelivered()),
            "throttled": self.throttled,
            "latency_ms_median": round(statistics.median(latencies), 1) if latencies else None,
            "latency_ms_p95": round(latencies[int(0.95 * (len(latencies) - 1))], 1)
            if latencies
            else None,
        }


# A first handshake runs the authorizer and $connect cold: give it time, and a few tries.
OPEN_TIMEOUT_SECONDS = 30.0
CONNECT_ATTEMPTS = 4


async def _listen(
    api: RestApi,
    websocket_base: str,
    client: dict[str, Any],
    report: LoadReport,
    connected: asyncio.Event,
    done: asyncio.Event,
) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidHandshake

    client_id = client["client_id"]
    ticket: str | None = client.get("ticket")  # fresh (60 s) from POST /clients: used at once
    for attempt in range(1, CONNECT_ATTEMPTS + 1):
        if ticket is None:  # one use each: a retry needs a new one
            ticket = str((await asyncio.to_thread(api.ticket, client_id))["ticket"])
        url, ticket = websocket_url(websocket_base, ticket), None
        try:
            socket = await connect(url, ping_interval=20, open_timeout=OPEN_TIMEOUT_SECONDS)
        except (InvalidHandshake, OSError, TimeoutError):
            if attempt == CONNECT_ATTEMPTS:
                raise
            await asyncio.sleep(0.5 * attempt)
            continue
        break
    # The handshake completes only after the authorizer and $connect have run: from then on a
    # result for this client finds its connection.
    async with socket:
        connected.set()
        while not done.is_set():
            try:
                message = await asyncio.wait_for(socket.recv(), timeout=0.5)
            except TimeoutError:
                continue
            result = json.loads(message)
            if result.get("job_id"):
                report.pushed[result["job_id"]].append((client_id, result, time.monotonic()))


async def _all_connected(
    connected: list[asyncio.Event], listeners: list[asyncio.Task[None]], timeout: float
) -> None:
    """Wait until every listener is connected; a listener that gave up raises its own error
    (not a bare timeout)."""
    ready: asyncio.Future[Any] = asyncio.ensure_future(
        asyncio.gather(*(event.wait() for event in connected))
    )
    waiting: set[asyncio.Future[Any]] = {ready, *listeners}
    finished, _ = await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    if ready in finished:
        return
    ready.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await ready
    for task in listeners:
        if task in finished:
            task.result()  # raises why it could not connect
            raise RuntimeError("a listener stopped before it connected")
    raise TimeoutError(f"the clients did not all connect within {timeout:.0f} s")


async def run_load(
    endpoints: Endpoints,
    *,
    auth: TokenSource | str,
    jobs: int,
    clients: int,
    pacs: dict[str, Any],
    algorithms: list[str],
    timeout: float = 300.0,
    one_at_a_time: bool = False,
) -> LoadReport:
    """Submit ``jobs`` jobs round-robin over ``clients`` clients and ``algorithms``, all as the
    user ``auth`` logs in (a login, or an ID token). ``one_at_a_time``: each job is submitted
    only after the previous one was pushed (latency on an otherwise idle system)."""
    api = RestApi(endpoints, auth)
    created = [await asyncio.to_thread(api.provision) for _ in range(clients)]
    report = LoadReport()
    done = asyncio.Event()
    connected = [asyncio.Event() for _ in created]
    try:
        listeners = [
            asyncio.create_task(_listen(api, endpoints.websocket_url, c, report, ready, done))
            for c, ready in zip(created, connected, strict=True)
        ]
        await _all_connected(connected, listeners, timeout=CONNECT_ATTEMPTS * OPEN_TIMEOUT_SECONDS)
        deadline = time.monotonic() + timeout

        async def submit(index: int) -> None:
            client = created[index % clients]["client_id"]
            algo = algorithms[index % len(algorithms)]
            job_id = uuid.uuid4().hex
            body = {"client_id": client, "pacs": pacs, "job_id": job_id}
            while True:
                report.submitted[job_id] = (client, algo, time.monotonic())
                try:
                    await asyncio.to_thread(api.submit, algo, body)
                    report.accepted[job_id] = time.monotonic()
                    if one_at_a_time:
                        while job_id not in report.pushed and time.monotonic() < deadline:
                            await asyncio.sleep(0.005)
                    return
                except RateLimited:
                    # The same job id: a retry after a 429 cannot run the job twice.
                    report.throttled += 1
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(THROTTLED_RETRY_SECONDS)

        limit = asyncio.Semaphore(1 if one_at_a_time else 8)

        async def bounded(index: int) -> None:
            async with limit:
                await submit(index)

        await asyncio.gather(*(bounded(i) for i in range(jobs)))
        while report.missing() and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # a duplicate push would arrive within this window
        done.set()
        await asyncio.gather(*listeners, return_exceptions=True)
    finally:
        done.set()
        for client in created:
            # Best effort: a failure here must not hide the run's own error.
            with contextlib.suppress(UserFacingError, LoginError, requests.RequestException):
                await asyncio.to_thread(api.delete_client, client["client_id"])
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--algo", action="append", help="algorithm id (repeatable)")
    parser.add_argument("--study", required=True)
    parser.add_argument("--series", required=True)
    parser.add_argument("--image", required=True)
    add_login_arguments(parser)


def main(argv: list[str] | None = None) -> int:
    return run_module(
        "python -m clients.load",
        __doc__.split("\n")[0],
        add_arguments,
        run,
        argv,
        env_file=DEFAULT_ENV_FILE,
    )


def run(args: argparse.Namespace) -> int:
    """`pipeline load` and `python -m clients.load`: the report is one JSON document."""
    try:
        values = load_env(args.env_file)
        endpoints = Endpoints.from_values(values, source=str(args.env_file))
        login = login_from_args(args, values)
    except (EnvFileError, LoginError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        report = _run(args, endpoints, login)
    except (UserFacingError, LoginError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    emit(args, report.summary())
    return 0 if not (report.missing() or report.misdelivered() or report.duplicates()) else 1


def _run(args: argparse.Namespace, endpoints: Endpoints, login: TokenSource) -> LoadReport:
    return asyncio.run(
        run_load(
            endpoints,
            auth=login,
            jobs=args.jobs,
            clients=args.clients,
            pacs={"study_id": args.study, "series_id": args.series, "image_id": args.image},
            algorithms=args.algo or ["processing_1", "processing_2", "processing_3"],
        )
    )


if __name__ == "__main__":
    sys.exit(main())
