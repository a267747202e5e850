"""Submit-to-push latency of the job API on the local cloud (issue: 200 jobs from 4 clients).

Brings template.yaml up locally, seeds the PACS, then submits ``--jobs`` jobs round-robin over
``--clients`` WebSocket clients and the three algorithms, and reports the latency from each
``POST /process`` to its WebSocket push: median and p95, plus the burst's total time and the
single-job latency measured first on an idle system (so queueing under the burst is visible as
the ratio between the two).

Every request is made as one user of the stack's pool (created and logged in here, the way
``tools.users`` and the CLIs do), with the per-user limits raised so that they, not the pipeline,
would be what a large ``--jobs`` or ``--clients`` measures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "common"), str(ROOT / "containers" / "pacs_api")]

from clients.env import Endpoints  # noqa: E402
from clients.load import run_load  # noqa: E402
from localcloud.cloud import LocalCloud  # noqa: E402
from pacs_api.seed import seed_pacs  # noqa: E402
from tools.users import create_user  # noqa: E402

# Far above any burst this bench sends: the limits are measured by tests/e2e/test_limits.py.
UNLIMITED = {
    "MaxClientsPerUser": "10000",
    "MaxClientCreationsPerMinute": "10000",
    "MaxJobsPerUserPerMinute": "100000",
}


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args(argv)
    with bench_stack("bench") as (cloud, pacs, endpoints):
        token = log_in_bench_user(cloud)
        algorithms = ["processing_1", "processing_2", "processing_3"]
        # Warm every function and worker once, then one job alone: the idle latency.
        asyncio.run(
            run_load(endpoints, auth=token, jobs=3, clients=1, pacs=pacs, algorithms=algorithms)
        )
        idle = asyncio.run(
            run_load(endpoints, auth=token, jobs=1, clients=1, pacs=pacs, algorithms=algorithms)
        )
        started = time.monotonic()
        burst = asyncio.run(
            run_load(
                endpoints,
                auth=token,
                jobs=args.jobs,
                clients=args.clients,
                pacs=pacs,
                algorithms=algorithms,
                timeout=600,
            )
        )
        elapsed = time.monotonic() - started
        summary = burst.summary()
        report = {
            "idle_single_job_ms": idle.summary()["latency_ms_median"],
            **{f"burst_{k}": v for k, v in summary.items()},
            "burst_seconds": round(elapsed, 1),
            "burst_jobs_per_second": round(args.jobs / elapsed, 1),
        }
        print(json.dumps(report, indent=2))
        return 0 if not (burst.missing() or burst.duplicates() or burst.misdelivered()) else 1


if __name__ == "__main__":
    sys.exit(main())
