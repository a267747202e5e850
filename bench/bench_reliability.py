"""1000 jobs from 10 clients, push and poll mixed, with a worker killed and restarted mid-run
(issue 12): is every result delivered exactly once, to the client that submitted it?

Brings template.yaml up locally (its own clocks: a killed worker's job comes back after the
request queue's 120 s visibility timeout), seeds the PACS, provisions ``--clients`` clients
through the REST API (half push: a WebSocket each; half poll: ``GET /results`` in a loop, the
public client code paths of ``clients/``), submits ``--jobs`` jobs round-robin over the clients
and the three algorithms, and SIGKILLs one ``processing_1`` worker once ``--kill-at`` of the
results have arrived (ECS starts a new one). It prints delivered, missing, duplicated,
misdelivered and the submit-to-delivery latency percentiles, and exits 1 when any job is
missing, duplicated or misdelivered.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "common")]

from bench_job_latency import bench_stack, log_in_bench_user  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from clients.load import LoadReport  # noqa: E402
from clients.ws_client import RateLimited, RestApi, ResultFeed, websocket_url  # noqa: E402
from tests.support.faults import kill_service_task, wait_for_tasks  # noqa: E402

ALGORITHMS = ["processing_1", "processing_2", "processing_3"]


class Run:
    def __init__(self, api: RestApi, report: LoadReport) -> None:
        self.api = api
        self.report = report
        self.lock = threading.Lock()
        self.done = threading.Event()

    def delivered(self, client_id: str, result: dict[str, Any]) -> None:
        if result.get("job_id"):
            with self.lock:
                self.report.pushed[result["job_id"]].append((client_id, result, time.monotonic()))

    def listen(self, websocket_base: str, client: dict[str, Any]) -> None:
        """A push client: its WebSocket, reconnected with a fresh ticket if it drops."""
        ticket = client["ticket"]
        while not self.done.is_set():
            try:
                with connect(websocket_url(websocket_base, ticket), open_timeout=30) as socket:
                    while not self.done.is_set():
                        try:
                            message = socket.recv(timeout=0.5)
                        except TimeoutError:
                            continue
                        self.delivered(client["client_id"], json.loads(message))
            except Exception as exc:  # a dropped socket: reconnect, as the CLI does
                if self.done.is_set():
                    return
                print(f"push client {client['client_id']}: {exc!r}; reconnecting", flush=True)
                time.sleep(1)
                ticket = self.api.ticket(client["client_id"])["ticket"]

    def poll(self, client: dict[str, Any]) -> None:
        """A poll client: ``GET /results`` from its cursor every second until the run ends (a
        failed request is sent again from the same cursor: nothing is lost)."""
        feed = ResultFeed(self.api, client["client_id"])
        while not self.done.is_set():
            try:
                for result in feed.poll():
                    self.delivered(client["client_id"], result)
            except Exception as exc:
                print(f"poll client {client['client_id']}: {exc!r}", flush=True)
            time.sleep(1)

    def submit(self, client_id: str, algo: str, pacs: dict[str, str], deadline: float) -> None:
        job_id = uuid.uuid4().hex
        body = {"client_id": client_id, "pacs": pacs, "job_id": job_id}
        while True:
            with self.lock:
                self.report.submitted[job_id] = (client_id, algo, time.monotonic())
            try:
                self.api.submit(algo, body)
                return
            except RateLimited:
                self.report.throttled += 1  # the same job id: a retry cannot run it twice
            except Exception as exc:  # 5xx or a dropped connection: the same job id again
                print(f"submit {job_id}: {exc!r}; retrying", flush=True)
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} could not be submitted")
            time.sleep(1)


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {
        "p50": round(statistics.median(ordered), 1),
        "p90": at(0.90),
        "p95": at(0.95),
        "p99": at(0.99),
        "max": round(ordered[-1], 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--kill-at", type=float, default=0.3, help="share delivered at the kill")
    parser.add_argument("--timeout", type=float, default=1200)
    args = parser.parse_args(argv)
    print(f"load average at start: {os.getloadavg()}", flush=True)
    with bench_stack("benchrel") as (cloud, pacs, endpoints):
        api = RestApi(endpoints, log_in_bench_user(cloud), timeout=60)
        report = LoadReport()
        run = Run(api, report)
        deliveries = ["push" if n % 2 == 0 else "poll" for n in range(args.clients)]
        clients = [api.provision(delivery) for delivery in deliveries]
        receivers = [
            threading.Thread(
                target=run.listen if delivery == "push" else run.poll,
                args=(endpoints.websocket_url, c) if delivery == "push" else (c,),
                daemon=True,
            )
            for c, delivery in zip(clients, deliveries, strict=True)
        ]
        for receiver in receivers:
            receiver.start()
        time.sleep(3)  # every socket connected ($connect done) before the first result

        killed: dict[str, Any] = {}

        def kill_a_worker() -> None:
            while len(report.pushed) < args.kill_at * args.jobs and not run.done.is_set():
                time.sleep(0.2)
            if run.done.is_set():
                return
            killed["pid"] = kill_service_task(cloud, "Processing1Service")
            killed["at_delivered"] = len(report.pushed)
            started = time.monotonic()
            wait_for_tasks(cloud, "Processing1Service", 1)
            killed["restarted_after_s"] = round(time.monotonic() - started, 1)
            print(f"killed processing_1 worker {killed}", flush=True)

        killer = threading.Thread(target=kill_a_worker, daemon=True)
        killer.start()
        started = time.monotonic()
        deadline = started + args.timeout
        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = [
                pool.submit(
                    run.submit,
                    clients[n % args.clients]["client_id"],
                    ALGORITHMS[n % len(ALGORITHMS)],
                    pacs,
                    deadline,
                )
                for n in range(args.jobs)
            ]
            for future in futures:
                future.result()
        submitted_in = time.monotonic() - started
        last_progress = time.monotonic()
        while report.missing() and time.monotonic() < deadline:
            time.sleep(0.5)
            if time.monotonic() - last_progress > 30:
                last_progress = time.monotonic()
                waiting = len(report.missing())
                print(f"{len(report.pushed)} delivered, {waiting} waiting", flush=True)
        time.sleep(5)  # a duplicate would arrive within this window
        run.done.set()
        elapsed = time.monotonic() - started
        for client in clients:
            try:
                api.delete_client(client["client_id"])
            except Exception as exc:  # best effort: the summary matters more
                print(f"delete {client['client_id']}: {exc!r}", flush=True)
        latencies = report.latencies_ms()
        summary = {
            "jobs": len(report.submitted),
            "clients": {d: deliveries.count(d) for d in ("push", "poll")},
            "delivered": len(report.pushed),
            "missing": len(report.missing()),
            "duplicated": len(report.duplicates()),
            "misdelivered": len(report.misdelivered()),
            "failed_jobs": sum(
                1 for pushes in report.pushed.values() if pushes[0][1].get("status") != "DONE"
            ),
            "throttled_submissions": report.throttled,
            "worker_killed": killed,
            "latency_ms": percentiles(latencies),
            "submitted_in_s": round(submitted_in, 1),
            "run_s": round(elapsed, 1),
            "jobs_per_second": round(args.jobs / elapsed, 2),
            "load_average_at_end": os.getloadavg(),
        }
        if report.missing():
            # Who was waiting for them, and what GET /jobs (the fallback) says of them
            kinds = {c["client_id"]: d for c, d in zip(clients, deliveries, strict=True)}
            summary["missing_by_delivery"] = dict(
                Counter(kinds[report.submitted[job][0]] for job in report.missing())
            )
            summary["missing_job_status"] = dict(
                Counter(api.job(job).get("status") for job in report.missing())
            )
        print(json.dumps(summary, indent=2))
        if report.missing():
            print("missing:", report.missing()[:20])
        return 0 if not (report.missing() or report.duplicates() or report.misdelivered()) else 1


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
