"""Load the job API: N clients connected over WebSocket submit jobs and collect their pushes.

``python -m clients.load --jobs 200 --clients 4 --study S --series SE --image I`` prints, per
client, how many results arrived and whether any belonged to another client, and the
submit-to-push latency (median, p95). The e2e tests and ``bench/bench_job_latency.py`` use
``run_load`` directly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clients.env import DEFAULT_ENV_FILE, Endpoints, load_endpoints
from clients.ws_client import RestApi, websocket_url


@dataclass
class LoadReport:
    submitted: dict[str, tuple[str, str, float]] = field(
        default_factory=dict
    )  # job -> (client, algo, t)
    pushed: dict[str, list[tuple[str, dict[str, Any], float]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # job -> [(receiving client, result, t)]

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
            "latency_ms_median": round(statistics.median(latencies), 1) if latencies else None,
            "latency_ms_p95": round(latencies[int(0.95 * (len(latencies) - 1))], 1)
            if latencies
            else None,
        }


async def _listen(
    url: str, client_id: str, report: LoadReport, connected: asyncio.Event, done: asyncio.Event
) -> None:
    import websockets

    # The handshake completes only after the authorizer and $connect have run: from then on a
    # result for this client finds its connection.
    async with websockets.connect(url, ping_interval=20) as socket:
        connected.set()
        while not done.is_set():
            try:
                message = await asyncio.wait_for(socket.recv(), timeout=0.5)
            except TimeoutError:
                continue
            result = json.loads(message)
            if result.get("job_id"):
                report.pushed[result["job_id"]].append((client_id, result, time.monotonic()))


async def run_load(
    endpoints: Endpoints,
    *,
    jobs: int,
    clients: int,
    pacs: dict[str, Any],
    algorithms: list[str],
    timeout: float = 300.0,
) -> LoadReport:
    """Submit ``jobs`` jobs round-robin over ``clients`` clients and ``algorithms``."""
    api = RestApi(endpoints)
    created = [await asyncio.to_thread(api.provision) for _ in range(clients)]
    report = LoadReport()
    done = asyncio.Event()
    connected = [asyncio.Event() for _ in created]
    listeners = [
        asyncio.create_task(
            _listen(
                websocket_url(endpoints.websocket_url, c["client_id"], c["token"]),
                c["client_id"],
                report,
                ready,
                done,
            )
        )
        for c, ready in zip(created, connected, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(ready.wait() for ready in connected)), timeout=60)

    async def submit(index: int) -> None:
        client = created[index % clients]["client_id"]
        algo = algorithms[index % len(algorithms)]
        job_id = uuid.uuid4().hex
        report.submitted[job_id] = (client, algo, time.monotonic())
        await asyncio.to_thread(
            api.submit, algo, {"client_id": client, "pacs": pacs, "job_id": job_id}
        )

    limit = asyncio.Semaphore(8)

    async def bounded(index: int) -> None:
        async with limit:
            await submit(index)

    await asyncio.gather(*(bounded(i) for i in range(jobs)))
    deadline = time.monotonic() + timeout
    while report.missing() and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)  # a duplicate push would arrive within this window
    done.set()
    await asyncio.gather(*listeners, return_exceptions=True)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m clients.load", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--algo", action="append", help="algorithm id (repeatable)")
    parser.add_argument("--study", required=True)
    parser.add_argument("--series", required=True)
    parser.add_argument("--image", required=True)
    parser.add_argument("--env-file", type=Path, default=DEFAULT_ENV_FILE)
    args = parser.parse_args(argv)
    report = asyncio.run(
        run_load(
            load_endpoints(args.env_file),
            jobs=args.jobs,
            clients=args.clients,
            pacs={"study_id": args.study, "series_id": args.series, "image_id": args.image},
            algorithms=args.algo or ["processing_1", "processing_2", "processing_3"],
        )
    )
    print(json.dumps(report.summary(), indent=2))
    return 0 if not (report.missing() or report.misdelivered() or report.duplicates()) else 1


if __name__ == "__main__":
    sys.exit(main())
