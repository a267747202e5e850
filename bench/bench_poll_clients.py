"""Poll mode at scale (issue 12 item 4): tens of thousands of poll clients, no subscription each.

Runs the real ProvisionerFunction and ResultsProxyFunction handlers in-process against moto
(tables built from template.yaml's own definitions, GSIs included), and:

1. creates ``--clients`` poll clients (``POST /clients {"delivery": "poll"}``) spread over
   ``--users`` users, timing each request;
2. counts what exists afterwards: client rows, SQS queues, subscriptions on the FIFO results
   topic (the old design made one queue and one subscription per poll client; an SNS FIFO topic
   takes 100 subscriptions, see README "Result delivery");
3. finishes ``--jobs`` jobs with the worker's own ``JobsTable.finish`` on a sample of the clients
   and reads them back with ``GET /results`` pages (``--limit``), following ``next_cursor``,
   timing each request; then checks delivered / missing / duplicated / misdelivered.

    .venv/bin/python bench/bench_poll_clients.py [--clients 10000] [--users 500] [--jobs 1000]

Figures are in-process moto: they show the design's shape (nothing per client but a row, pages
that cost one index query) and this code's own overhead, not AWS latency. The per-user cap and
rate checks (two COUNT queries on ClientsTable's ``owner-index``) are skipped unless
``--with-limits``: moto answers a GSI query by sorting the whole table, which would make the run
quadratic in ``--clients`` (DynamoDB reads only the caller's partition).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [
    str(ROOT),
    str(ROOT / "layers" / "common"),
    str(ROOT / "containers" / "algorithm_worker"),
]
os.environ.update(
    {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Bench",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_DEV": "false",
    }
)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from algorithm_worker.jobs_table import JobsTable  # noqa: E402
from localcloud.template import load_yaml  # noqa: E402
from pipeline_common import aws  # noqa: E402
from pipeline_common.contracts.jobs import JobMessage, JobResult  # noqa: E402
from tests.support.functions import load_function  # noqa: E402

EVENTS = ROOT / "events"
FIFO_TOPIC_SUBSCRIPTION_QUOTA = 100  # per SNS FIFO topic (README, "Result delivery")


class Context:
    function_name = "bench"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def create_table(resources: dict[str, Any], logical_id: str) -> str:
    properties = resources[logical_id]["Properties"]
    arguments = {
        "TableName": logical_id,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
    }
    if properties.get("GlobalSecondaryIndexes"):
        arguments["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
    boto3.client("dynamodb").create_table(**arguments)
    return logical_id


def as_user(event: dict[str, Any], sub: str) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    claims = changed["requestContext"]["authorizer"]["claims"]
    claims.update({"sub": sub, "cognito:username": sub[:8], "email": f"{sub[:8]}@example.com"})
    claims.pop("cognito:groups", None)
    return changed


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (
        f"median {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, "
        f"max {ordered[-1] * 1000:.1f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=1_000)
    parser.add_argument("--job-clients", type=int, default=200, help="clients the jobs go to")
    parser.add_argument("--limit", type=int, default=25, help="GET /results page size")
    parser.add_argument(
        "--with-limits",
        action="store_true",
        help="keep the per-user checks (quadratic under moto: try --clients 1000)",
    )
    args = parser.parse_args(argv)
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    resources: dict[str, Any] = load_yaml(ROOT / "template.yaml")["Resources"]
    per_user = -(-args.clients // args.users)

    with mock_aws():
        aws.clear_clients()
        os.environ.update(
            {
                "CLIENTS_TABLE": create_table(resources, "ClientsTable"),
                "TICKETS_TABLE": create_table(resources, "TicketsTable"),
                "CONNECTIONS_TABLE": create_table(resources, "ConnectionsTable"),
                "JOBS_TABLE": create_table(resources, "JobsTable"),
                "WEBSOCKET_ENDPOINT": "wss://bench.execute-api.us-east-1.amazonaws.com/prod",
                "MAX_CLIENTS_PER_USER": str(per_user),
                "MAX_CLIENT_CREATIONS_PER_MINUTE": str(per_user),
                "OUTPUT_BUCKET": "pipeline-output-123456789012",  # the sample result's bucket
                "RESULTS_SETTLE_SECONDS": "0",
                "WAIT_TIME_SECONDS": "0",
            }
        )
        topic_arn = boto3.client("sns").create_topic(
            Name="bench-results.fifo",
            Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "false"},
        )["TopicArn"]

        # 1. Create the poll clients.
        provisioner = load_function("provisioner")
        if not args.with_limits:
            # moto answers a GSI query by sorting the whole table (DynamoDB reads one
            # partition), so the two owner-index COUNT queries of the per-user checks would make
            # this run quadratic in --clients; tests/e2e/test_limits.py measures the limits.
            sys.modules["provisioner_logic"].enforce_client_limits = lambda **_: None
        template_event = json.loads((EVENTS / "provisioner_poll.json").read_text())
        users = [str(uuid.uuid4()) for _ in range(args.users)]
        owners: dict[str, str] = {}
        timings: list[float] = []
        started = time.perf_counter()
        for index in range(args.clients):
            user = users[index % len(users)]
            begin = time.perf_counter()
            response = provisioner.lambda_handler(as_user(template_event, user), Context())
            timings.append(time.perf_counter() - begin)
            if response["statusCode"] != 201:
                print(f"POST /clients #{index} -> {response['statusCode']} {response['body']}")
                return 1
            owners[json.loads(response["body"])["client_id"]] = user
        creation_seconds = time.perf_counter() - started

        # 2. What exists now.
        subscriptions = boto3.client("sns").list_subscriptions_by_topic(TopicArn=topic_arn)[
            "Subscriptions"
        ]
        queues = boto3.client("sqs").list_queues().get("QueueUrls", [])
        pages = boto3.client("dynamodb").get_paginator("scan")
        row_count = sum(
            page["Count"] for page in pages.paginate(TableName="ClientsTable", Select="COUNT")
        )

        # 3. Jobs finished by the worker's own code, read back page by page.
        sample = list(owners)[: args.job_clients]
        sample_result = json.loads(
            json.loads((EVENTS / "result_push_batch.json").read_text())["Records"][0]["body"]
        )
        table = JobsTable(boto3.client("dynamodb"), "JobsTable", ttl_days=30)
        expected: dict[str, list[str]] = {client: [] for client in sample}
        started = time.perf_counter()
        for index in range(args.jobs):
            client_id = sample[index % len(sample)]
            job_id = f"bench{index:08d}{uuid.uuid4().hex[:8]}"
            result = JobResult.model_validate(
                {**sample_result, "job_id": job_id, "client_id": client_id}
            )
            job = JobMessage(
                job_id=job_id,
                client_id=client_id,
                algo_id=result.algo_id,
                pacs=result.pacs,
                submitted_at=result.completed_at,
            )
            table.claim(job, receive_count=1)
            boto3.client("dynamodb").update_item(
                TableName="JobsTable",
                Key={"job_id": {"S": job_id}},
                UpdateExpression="SET #owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owners[client_id]}},
            )
            table.finish(result)
            expected[client_id].append(job_id)
        finish_seconds = time.perf_counter() - started

        proxy = load_function("results_proxy")
        poll_event = json.loads((EVENTS / "results_proxy_poll.json").read_text())
        delivered: dict[str, list[str]] = {client: [] for client in sample}
        misdelivered = 0
        poll_timings: list[float] = []
        started = time.perf_counter()
        for client_id in sample:
            cursor = ""
            while True:
                event = as_user(poll_event, owners[client_id])
                event["queryStringParameters"] = {
                    "client_id": client_id,
                    "limit": str(args.limit),
                    **({"after": cursor} if cursor else {}),
                }
                begin = time.perf_counter()
                response = proxy.lambda_handler(event, Context())
                poll_timings.append(time.perf_counter() - begin)
                body = json.loads(response["body"])
                for result in body["results"]:
                    if result["client_id"] != client_id:
                        misdelivered += 1
                    delivered[client_id].append(result["job_id"])
                cursor = body["next_cursor"]
                if not body["results"]:
                    break
        poll_seconds = time.perf_counter() - started
    aws.clear_clients()

    missing = sum(len(set(expected[c]) - set(delivered[c])) for c in sample)
    duplicated = sum(len(delivered[c]) - len(set(delivered[c])) for c in sample)
    out_of_order = sum(delivered[c] != expected[c] for c in sample)
    checks = "per-user checks on" if args.with_limits else "per-user checks skipped"
    print(f"\npoll clients created:       {args.clients} ({args.users} users, {checks})")
    print(
        f"  total time:               {creation_seconds:.1f} s "
        f"({args.clients / creation_seconds:.0f} clients/s)"
    )
    print(f"  POST /clients:            {percentiles(timings)}")
    print(f"  ClientsTable rows:        {row_count}")
    print(f"  SQS queues:               {len(queues)}")
    old_design = f"old design: {args.clients}, FIFO topic quota {FIFO_TOPIC_SUBSCRIPTION_QUOTA}"
    print(f"  results topic subscriptions: {len(subscriptions)} ({old_design})")
    print(
        f"\njobs finished (JobsTable.finish): {args.jobs} over {len(sample)} clients "
        f"in {finish_seconds:.1f} s"
    )
    print(
        f"GET /results pages (limit {args.limit}): {len(poll_timings)} in {poll_seconds:.1f} s, "
        f"{percentiles(poll_timings)}"
    )
    print(
        f"  delivered {sum(len(v) for v in delivered.values())}, missing {missing}, "
        f"duplicated {duplicated}, misdelivered {misdelivered}, "
        f"clients out of completion order {out_of_order}"
    )
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    ok = not (subscriptions or queues or missing or duplicated or misdelivered or out_of_order)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
