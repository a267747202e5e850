"""Submit-to-push latency of the job API on the local cloud, hop by hop (issue 14, item 5).

Brings template.yaml up locally, seeds the PACS, warms every function and worker, then:

1. **idle**: ``--idle-jobs`` jobs one at a time (each submitted after the previous one was
   pushed), over the three algorithms: the latency of one job on an otherwise idle system;
2. **burst**: ``--jobs`` jobs from ``--clients`` WebSocket clients at once (8 submissions in
   flight, as ``clients.load`` sends them).

For each phase it prints, per hop, the p50 and p90 in milliseconds, from timestamps the
pipeline already carries or logs (ids and timings only, nothing from the DICOM data):

- ``api``: client sends ``POST /process`` -> the router's ``submitted_at`` (gateway, JWT
  check, Lambda dispatch, body parsing);
- ``router``: ``submitted_at`` -> the request message's ``SentTimestamp`` (client check, rate
  count, JobsTable put, SQS send);
- ``queue``: ``SentTimestamp`` -> the worker's receive (long-poll wake-up; under a burst,
  waiting for a free worker);
- ``claim``: the worker's conditional JobsTable update;
- ``pacs_fetch``: QIDO-RS + WADO-RS through the load balancer to the PACS (the worker starts
  the fetch with the claim: what is left of it once the claim is written);
- ``compute``: decode, windowing, the algorithm, overlay render, PNG encode, measurements;
- ``seg_build``: building the DICOM SEG and Secondary Capture; ``pacs_store``: their STOW-RS;
- ``upload``: overlay PNG and result JSON to S3 (the overlay uploads during ``seg_build`` and
  ``pacs_store``: what is left of it, then the result JSON);
- ``finish``: the conditional JobsTable update to DONE; ``publish``: SNS FIFO publish (which
  delivers to ResultsQueue.fifo);
- ``to_push``: the publish -> ResultPushFunction handling the record (event source poll,
  Lambda dispatch); ``push``: connections query and ``post_to_connection``;
- ``ws``: ``post_to_connection`` returned -> the client has the message;
- ``total``: client sends ``POST /process`` -> the client has the push.

``other`` is ``total`` less the hops (the worker's own bookkeeping between them, clock
granularity: SQS timestamps are milliseconds). The worker also marks the job published and
deletes its message after the publish (``after_publish``): off the latency path, on the
throughput one.

CPU: the CPU seconds of every process of the local cloud over the burst (from ``/proc``), per
job, by role; the algorithm workers' CPU-seconds per job give the **CPU bound** of the burst,
``min(workers, CPUs) / worker CPU-s per job`` jobs/s, and the burst's throughput is printed as
a percentage of it. Everything else of the local cloud (moto, the gateway, the pollers, the
functions, the PACS and the load clients themselves) runs on the same CPUs.

Every request is made as one user of the stack's pool (created and logged in here, the way
``tools.users`` and the CLIs do), with the per-user limits raised so that they, not the pipeline,
would be what a large ``--jobs`` or ``--clients`` measures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "common"), str(ROOT / "containers" / "pacs_api")]

from clients.env import Endpoints  # noqa: E402
from clients.load import LoadReport, run_load  # noqa: E402
from localcloud.cloud import LocalCloud  # noqa: E402
from pacs_api.seed import seed_pacs  # noqa: E402
from tools.users import create_user  # noqa: E402

# Far above any burst this bench sends: the limits are measured by tests/e2e/test_limits.py.
UNLIMITED = {
    "MaxClientsPerUser": "10000",
    "MaxClientCreationsPerMinute": "10000",
    "MaxJobsPerUserPerMinute": "100000",
}
ALGORITHMS = ["processing_1", "processing_2", "processing_3"]
HOPS = [
    "api",
    "router",
    "queue",
    "claim",
    "pacs_fetch",
    "compute",
    "seg_build",
    "pacs_store",
    "upload",
    "finish",
    "publish",
    "to_push",
    "push",
    "ws",
    "other",
    "total",
    "after_publish",
]


def log_in_bench_user(cloud: LocalCloud) -> str:
    """A fresh user of the stack's pool; its ID token (valid an hour: longer than any run)."""
    cognito = cloud.client("cognito-idp")
    client_id = cloud.outputs["UserPoolClientId"]
    user = create_user(cognito, cloud.outputs["UserPoolId"], "bench", reset_password=True)
    answer = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user.username, "PASSWORD": user.password or ""},
    )
    token: str = answer["AuthenticationResult"]["IdToken"]
    return token


@contextmanager
def bench_stack(name: str) -> Iterator[tuple[LocalCloud, dict[str, str], Endpoints]]:
    """template.yaml up locally with ``UNLIMITED`` limits, the PACS seeded: the cloud, a CT
    instance to submit jobs on, and the endpoints a client reads from ``.env.local``."""
    cloud = LocalCloud(
        template_path=ROOT / "template.yaml",
        state_dir=ROOT / ".localcloud" / name,
        stack_name=name,
        parameter_overrides=UNLIMITED,
    )
    cloud.up()
    try:
        cloud.wait_until_healthy()
        seeded = seed_pacs(cloud.outputs["PacsBucketName"], s3=cloud.client("s3"))
        ct = next(o for o in seeded if o.source == "CT_small.dcm")
        pacs = {"study_id": ct.study_id, "series_id": ct.series_id, "image_id": ct.instance_id}
        endpoints = Endpoints(
            rest_api_url=cloud.outputs["RestApiUrl"],
            websocket_url=cloud.outputs["WebsocketUrl"],
            user_pool_id=cloud.outputs["UserPoolId"],
            user_pool_client_id=cloud.outputs["UserPoolClientId"],
            aws_endpoint_url=cloud.endpoint,
        )
        yield cloud, pacs, endpoints
    finally:
        cloud.down()


# -- where the time goes ---------------------------------------------------------------------


def _json_lines(folder: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(folder.glob("*.log")):
        with path.open(errors="replace") as lines:
            for line in lines:
                if line.startswith("{"):
                    try:
                        yield json.loads(line)
                    except ValueError:
                        continue


def read_timelines(state_dir: Path) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The workers' ``job timeline`` and ResultPushFunction's ``result pushed`` lines, by job."""
    workers = {
        line["job_id"]: line
        for line in _json_lines(state_dir / "logs" / "containers")
        if line.get("message") == "job timeline" and "job_id" in line
    }
    pushes = {
        line["job_id"]: line
        for line in _json_lines(state_dir / "logs" / "functions")
        if line.get("message") == "result pushed" and "pushed_at_ms" in line
    }
    return workers, pushes


def hops_of(
    report: LoadReport,
    workers: dict[str, dict[str, Any]],
    pushes: dict[str, dict[str, Any]],
    wall_offset: float,
) -> list[dict[str, float]]:
    """Per job, milliseconds per hop (client times are monotonic: ``wall_offset`` converts)."""
    rows = []
    for job_id, (_, _, sent) in report.submitted.items():
        if job_id not in report.pushed or job_id not in workers or job_id not in pushes:
            continue
        worker, push = workers[job_id], pushes[job_id]
        result = report.pushed[job_id][0][1]
        client_sent_ms = (sent + wall_offset) * 1000
        client_got_ms = (report.pushed[job_id][0][2] + wall_offset) * 1000
        submitted_ms = datetime.fromisoformat(result["submitted_at"]).timestamp() * 1000
        stages = worker["stages_ms"]
        steps = worker["durations_ms"]
        seg = stages.get("seg", 0.0)
        stow = stages.get("stow", 0.0)
        row = {
            "api": submitted_ms - client_sent_ms,
            "router": worker["request_sent_at_ms"] - submitted_ms,
            "queue": worker["received_at_ms"] - worker["request_sent_at_ms"],
            "claim": steps["claim"],
            "pacs_fetch": stages["fetch"],
            "compute": stages["total_before_upload"] - stages["fetch"] - seg,
            "seg_build": seg - stow,
            "pacs_store": stow,
            "upload": stages["upload"],
            "finish": steps["finish"],
            "publish": steps["publish"],
            "to_push": push["handled_at_ms"] - worker["published_at_ms"],
            "push": push["pushed_at_ms"] - push["handled_at_ms"],
            "ws": client_got_ms - push["pushed_at_ms"],
            "total": client_got_ms - client_sent_ms,
            "after_publish": steps.get("mark_published", 0.0) + steps.get("delete", 0.0),
        }
        row["other"] = row["total"] - sum(row[h] for h in HOPS if h not in ("other", "total"))
        row["other"] += row["after_publish"]  # not on the path: added back
        rows.append(row)
    return rows


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def hop_table(rows: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    return {
        hop: {
            "p50": round(statistics.median(r[hop] for r in rows), 1),
            "p90": round(percentile([r[hop] for r in rows], 0.9), 1),
        }
        for hop in HOPS
    }


# -- CPU -------------------------------------------------------------------------------------


def _role(process: psutil.Process) -> str:
    try:
        cwd = Path(process.cwd())
        command = " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "gone"
    if cwd.parent.name == "containers":
        return "algorithm workers" if cwd.name == "algorithm_worker" else cwd.name
    if "localcloud.lambda_worker" in command:
        return "functions"
    return "other"


def cpu_seconds() -> dict[int, tuple[str, float]]:
    """CPU seconds (user + system) of this process (moto, gateway, pollers, load clients) and
    of every process the local cloud started, by pid."""
    me = psutil.Process()
    times = me.cpu_times()
    seen = {me.pid: ("local cloud + clients (this process)", times.user + times.system)}
    for child in me.children(recursive=True):
        try:
            times = child.cpu_times()
            seen[child.pid] = (_role(child), times.user + times.system)
        except psutil.NoSuchProcess:
            continue
    return seen


def cpu_over(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict:
    by_role: dict[str, float] = {}
    processes: dict[str, int] = {}
    for pid, (role, seconds) in after.items():
        by_role[role] = by_role.get(role, 0.0) + seconds - before.get(pid, (role, 0.0))[1]
        processes[role] = processes.get(role, 0) + 1
    return {"seconds": by_role, "processes": processes}


def _in_seg_builds(hops: dict[str, dict[str, float]]) -> float | None:
    """The idle total over the run's own ``seg_build`` p50: that hop is the same pure-CPU work in
    every run (highdicom on the same source), so the ratio compares runs on hosts, or moments of
    a shared host, whose CPU speed differs (seen here: identical code, 157-232 ms idle p50, with
    ``seg_build`` 19.8-31.5 ms)."""
    seg = hops.get("seg_build", {}).get("p50")
    return round(hops["total"]["p50"] / seg, 2) if seg else None


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- the run ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--idle-jobs", type=int, default=15)
    parser.add_argument("--json", action="store_true", help="print the report as JSON only")
    args = parser.parse_args(argv)
    cpus = len(os.sched_getaffinity(0))
    wall_offset = time.time() - time.monotonic()
    load_at_start = load_average()
    with bench_stack("bench") as (cloud, pacs, endpoints):
        token = log_in_bench_user(cloud)

        def load(jobs: int, clients: int, **kwargs: Any) -> LoadReport:
            return asyncio.run(
                run_load(
                    endpoints,
                    auth=token,
                    jobs=jobs,
                    clients=clients,
                    pacs=pacs,
                    algorithms=ALGORITHMS,
                    **kwargs,
                )
            )

        load(6, 1)  # warm every function and worker (twice each)
        idle = load(args.idle_jobs, 1, one_at_a_time=True)
        before = cpu_seconds()
        started = time.monotonic()
        burst = load(args.jobs, args.clients, timeout=900)
        elapsed = time.monotonic() - started
        cpu = cpu_over(before, cpu_seconds())
        time.sleep(1.0)  # the last log lines reach their files
        workers, pushes = read_timelines(cloud.state_dir)
    idle_rows = hops_of(idle, workers, pushes, wall_offset)
    burst_rows = hops_of(burst, workers, pushes, wall_offset)
    done = len(burst.pushed)
    worker_cpu = cpu["seconds"].get("algorithm workers", 0.0)
    worker_count = cpu["processes"].get("algorithm workers", 0)
    per_job = worker_cpu / done if done else float("nan")
    bound = min(worker_count, cpus) / per_job if per_job else float("nan")
    throughput = done / elapsed
    idle_hops = hop_table(idle_rows) if idle_rows else {}
    report = {
        "cpus": cpus,
        "load_average": {"start": load_at_start, "end": load_average()},
        "idle": {
            "jobs": len(idle_rows),
            "submit_to_push_ms_p50": idle_hops["total"]["p50"] if idle_rows else None,
            "hops_ms": idle_hops,
            "total_in_seg_builds": _in_seg_builds(idle_hops) if idle_rows else None,
        },
        "burst": {
            **burst.summary(),
            "seconds": round(elapsed, 1),
            "jobs_per_second": round(throughput, 2),
            "hops_ms": hop_table(burst_rows) if burst_rows else {},
            "cpu_seconds_per_job": {
                role: round(seconds / done, 4) for role, seconds in sorted(cpu["seconds"].items())
            },
            "processes": cpu["processes"],
            "worker_cpu_bound_jobs_per_second": round(bound, 2),
            "throughput_percent_of_worker_cpu_bound": round(100 * throughput / bound, 1),
            "all_cpu_seconds_per_job": round(sum(cpu["seconds"].values()) / done, 4),
        },
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_report(report)
    failed = burst.missing() or burst.duplicates() or burst.misdelivered()
    return 1 if failed or idle.missing() else 0


def _print_report(report: dict[str, Any]) -> None:
    idle, burst = report["idle"], report["burst"]
    print(
        f"CPUs {report['cpus']}; load average at start {report['load_average']['start']}, "
        f"at end {report['load_average']['end']}"
    )
    print(
        f"\nper hop, ms: idle ({idle['jobs']} jobs one at a time) and burst "
        f"({burst['jobs']} jobs, {burst['pushed']} pushed)"
    )
    print(f"{'hop':<14}{'idle p50':>10}{'idle p90':>10}{'burst p50':>11}{'burst p90':>11}")
    for hop in HOPS:
        i = idle["hops_ms"].get(hop, {})
        b = burst["hops_ms"].get(hop, {})
        print(
            f"{hop:<14}{i.get('p50', float('nan')):>10.1f}{i.get('p90', float('nan')):>10.1f}"
            f"{b.get('p50', float('nan')):>11.1f}{b.get('p90', float('nan')):>11.1f}"
        )
    if idle.get("total_in_seg_builds"):
        print(
            f"idle total p50 = {idle['total_in_seg_builds']} x seg_build p50 (pure CPU, the same "
            "work each run: compares runs across host speeds)"
        )
    print(
        f"\nburst: {burst['jobs_per_second']} jobs/s over {burst['seconds']} s; missing "
        f"{burst['missing']}, duplicated {burst['duplicates']}, misdelivered "
        f"{burst['misdelivered']}, throttled {burst['throttled']}"
    )
    print("CPU seconds per job over the burst, by role (processes):")
    for role, seconds in burst["cpu_seconds_per_job"].items():
        print(f"  {role:<40}{seconds:>8.4f}  ({burst['processes'].get(role, 0)})")
    print(f"  {'all':<40}{burst['all_cpu_seconds_per_job']:>8.4f}")
    print(
        f"workers' CPU bound: {burst['worker_cpu_bound_jobs_per_second']} jobs/s; the burst ran at "
        f"{burst['throughput_percent_of_worker_cpu_bound']}% of it"
    )


if __name__ == "__main__":
    sys.exit(main())
