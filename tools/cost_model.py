"""Monthly cost and capacity model of the deployed stack (us-east-1, on-demand list prices).

``python -m tools.cost_model`` prints every table of ``docs/cost-model.md``. Standard library only:
the prices (each with its source, the date it was read and how sure it is), the work figures
(measured here or taken from the issue, each with its source), the template's sizes, and the
formulas. It is a model: every figure marked ``assumed`` is a stated guess, not a measurement.

No free tier is applied anywhere (a real account would pay slightly less at the low end).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parents[1]
HOURS_PER_MONTH = 730.0
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
GB = 1e9  # AWS bills data by GB; the model uses 10^9 bytes (the GiB/GB gap is under 7.4 %)
READ_ON = "2026-12-06"

Status = Literal["cited", "recalled", "assumed"]


# ------------------------------------------------------------------------------------------------
# Prices
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    status: Status  # cited: read on a page this session; recalled: no page found, verify
    source: str
    read_on: str = READ_ON


_FARGATE = (
    "https://aws.amazon.com/fargate/pricing/ (rates rendered by script; figures as transcribed by "
    "https://www.vantage.sh/blog/fargate-pricing and https://cloudburn.io/blog/aws-fargate-pricing,"
    " 'us-east-1 as of March 2026')"
)
_LAMBDA = (
    "https://aws.amazon.com/lambda/pricing/ (rates rendered by script; figures as transcribed by "
    "https://cloudchipr.com/blog/aws-lambda-pricing)"
)
_APIGW = (
    "https://aws.amazon.com/api-gateway/pricing/ (as transcribed by "
    "https://www.wring.co/blog/aws-api-gateway-pricing-guide and "
    "https://amnic.com/blogs/aws-api-gateway-pricing)"
)
_NAT = (
    "https://aws.amazon.com/vpc/pricing/ (as transcribed by "
    "https://basavytix.com/blog/aws-nat-gateway-pricing and "
    "https://cloudburn.io/blog/aws-nat-gateway-pricing, Feb 2026)"
)
_SQS = "https://cloudburn.io/blog/amazon-sqs-pricing (March 2026; from aws.amazon.com/sqs/pricing/)"
_KINESIS = (
    "https://aws.amazon.com/kinesis/data-streams/pricing/ (units; rates rendered by script) and "
    "https://costcalculator.calculator.city/aws-kinesis-cost-calculator (a third-party calculator: "
    "'US-East-1 ... $0.015/hr', '$0.014/million')"
)
_RECALLED = "no page with the figure found this session; us-east-1 list price as recalled, verify"

PRICES: dict[str, Price] = {
    "fargate_arm_vcpu_hour": Price(0.03238, "per vCPU-hour, Linux/ARM", "cited", _FARGATE),
    "fargate_arm_gb_hour": Price(0.00356, "per GB-hour, Linux/ARM", "cited", _FARGATE),
    "fargate_ephemeral_gb_hour": Price(
        0.000111, "per GB-hour of ephemeral storage above 20 GB", "cited", _FARGATE
    ),
    "lambda_arm_gb_second": Price(0.0000133334, "per GB-second, Arm, first tier", "cited", _LAMBDA),
    "lambda_request": Price(0.20 / 1e6, "per request", "cited", _LAMBDA),
    "sfn_transition": Price(
        0.025 / 1000,
        "per state transition, Standard",
        "cited",
        "https://aws.amazon.com/step-functions/pricing/ (US East (N. Virginia) $0.0250 per 1,000)",
    ),
    "s3_standard_gb_month": Price(
        0.023,
        "per GB-month, S3 Standard, first 50 TB",
        "cited",
        "https://aws.amazon.com/s3/pricing/ (as quoted by https://deepeshsoni.com/archives/256)",
    ),
    "s3_put": Price(
        0.005 / 1000,
        "per PUT/COPY/POST/LIST request",
        "cited",
        "https://aws.amazon.com/s3/pricing/ (as quoted by https://www.cloudkaramchari.com/blog/"
        "understanding-per-1000-put-copy-post-or-list-requests-in-amazon-s3-pricing/)",
    ),
    "s3_get": Price(0.0004 / 1000, "per GET request", "recalled", _RECALLED),
    "sqs_standard_request": Price(
        0.40 / 1e6,
        "per request (64 KB chunk), standard queue",
        "cited",
        _SQS,
    ),
    "sqs_fifo_request": Price(
        0.50 / 1e6,
        "per request (64 KB chunk), FIFO queue",
        "cited",
        _SQS,
    ),
    "sns_fifo_publish": Price(
        0.30 / 1e6,
        "per FIFO publish",
        "cited",
        "https://www.factualminds.com/blog/amazon-sns-pricing-publishes-fanout-protocols/ "
        "(June 2026; from aws.amazon.com/sns/pricing/)",
    ),
    "sns_fifo_payload_gb": Price(0.017, "per GB published to a FIFO topic", "recalled", _RECALLED),
    "sns_fifo_delivery": Price(
        0.01 / 1e6, "per FIFO subscription message to SQS", "recalled", _RECALLED
    ),
    "kinesis_shard_hour": Price(0.015, "per shard-hour, provisioned", "cited", _KINESIS),
    "kinesis_put_unit": Price(0.014 / 1e6, "per 25 KB PUT payload unit", "cited", _KINESIS),
    "dynamodb_wru": Price(
        0.625 / 1e6,
        "per write request unit, on-demand",
        "cited",
        "https://airbyte.com/data-engineering-resources/dynamodb-pricing (after the Nov 2024 cut)",
    ),
    "dynamodb_rru": Price(
        0.125 / 1e6,
        "per read request unit, on-demand",
        "cited",
        "https://airbyte.com/data-engineering-resources/dynamodb-pricing (after the Nov 2024 cut)",
    ),
    "nat_hour": Price(0.045, "per NAT gateway-hour", "cited", _NAT),
    "nat_gb": Price(0.045, "per GB processed by the NAT gateway", "cited", _NAT),
    "public_ipv4_hour": Price(0.005, "per public IPv4 address-hour (the NAT's EIP)", "cited", _NAT),
    "alb_hour": Price(
        0.0225,
        "per ALB-hour",
        "cited",
        "https://cloud-horizons.com/blog/alb-the-line-item-nobody-watches/ (May 2026)",
    ),
    "alb_lcu_hour": Price(
        0.008,
        "per LCU-hour",
        "cited",
        "https://cloud-horizons.com/blog/alb-the-line-item-nobody-watches/ (May 2026)",
    ),
    "apigw_rest_request": Price(3.50 / 1e6, "per REST API call, first 333 M", "cited", _APIGW),
    "apigw_http_request": Price(1.00 / 1e6, "per HTTP API call, first 300 M", "cited", _APIGW),
    "apigw_ws_message": Price(1.00 / 1e6, "per WebSocket message (32 KB)", "cited", _APIGW),
    "apigw_ws_connection_minute": Price(
        0.25 / 1e6, "per WebSocket connection-minute", "cited", _APIGW
    ),
    "logs_ingest_gb": Price(
        0.50,
        "per GB ingested, Standard log class",
        "cited",
        "https://c3x.dev/blog/cloudwatch-logs-cost-optimization ('us-east-1, June 2026')",
    ),
    "logs_store_gb_month": Price(
        0.03,
        "per GB-month stored (compressed)",
        "cited",
        "https://c3x.dev/blog/cloudwatch-logs-cost-optimization ('us-east-1, June 2026')",
    ),
    "cw_alarm_metric_month": Price(
        0.10, "per standard-resolution alarm metric-month", "recalled", _RECALLED
    ),
    "cw_dashboard_month": Price(
        3.00, "per dashboard-month (beyond the free 3)", "recalled", _RECALLED
    ),
}


def price(key: str) -> float:
    return PRICES[key].usd


def fargate_second_usd(vcpu: float, memory_gb: float) -> float:
    """What one second of a running Fargate ARM64 task of this size costs."""
    hourly = vcpu * price("fargate_arm_vcpu_hour") + memory_gb * price("fargate_arm_gb_hour")
    return hourly / 3600


# ------------------------------------------------------------------------------------------------
# Figures: measured here (bench/, issue 14), taken from template.yaml, or assumed
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    value: float
    unit: str
    status: Literal["measured", "template", "documented", "assumed"]
    source: str


FIGURES: dict[str, Figure] = {
    # Image task work
    "codec_s": Figure(
        0.050,
        "s of decode+convert+encode, 512x512 photo",
        "measured",
        "issue 14 (bench/bench_image_task.py on a 2 vCPU AVX2 host)",
    ),
    "per_object_task_work_s": Figure(
        0.250,
        "s in the task per object, per-object mode",
        "measured",
        "issue 14: 'the task's total is about 5x its decode + convert + encode'",
    ),
    "batched_overhead_factor": Figure(
        1.2,
        "x (codec + transfer) per image inside a batch",
        "documented",
        "issue 14 item 3 target ('within 1.2x of decode + convert + encode + transfer')",
    ),
    "transfer_s": Figure(
        0.030, "s of S3 GET+PUT of a ~60 KB object in-region", "assumed", "not measured here"
    ),
    "task_start_latency_s": Figure(
        40.0,
        "s from RunTask to a running container",
        "documented",
        "issue 14: Fargate starts a task in 'tens of seconds'; 40 s picked inside that range",
    ),
    "task_billed_start_s": Figure(
        20.0,
        "s of that start which is billed (image pull + container start)",
        "assumed",
        "Fargate bills 'from the time you start to download your container image' "
        "(aws.amazon.com/fargate/pricing/); the split of the 40 s is a guess",
    ),
    "process_start_s": Figure(
        1.0, "s of interpreter start and imports per task", "assumed", "not measured here"
    ),
    "fargate_minimum_s": Figure(
        60.0,
        "s billed at least per task",
        "documented",
        "aws.amazon.com/fargate/pricing/ (per second, one-minute minimum)",
    ),
    "image_input_kb": Figure(60.0, "KB per input image", "assumed", "a 512x512 JPEG"),
    "image_output_kb": Figure(40.0, "KB per gray output", "assumed", "a 512x512 gray JPEG"),
    "lambda_dispatch_s": Figure(
        0.150,
        "s billed per dispatcher invocation (warm, one StartExecution)",
        "assumed",
        "not measured on AWS",
    ),
    "nat_kb_per_task": Figure(
        100.0,
        "KB through the NAT per task (ECR auth/manifest, ECS, SQS, Logs)",
        "assumed",
        "image layers come from S3 through the S3 gateway endpoint (template S3GatewayEndpoint)",
    ),
    "log_kb_per_object": Figure(
        2.0, "KB of logs per image (Lambda + container lines)", "assumed", "Powertools JSON"
    ),
    "log_kb_per_task": Figure(
        6.0,
        "KB of logs per task (start lines + Container Insights events)",
        "assumed",
        "containerInsights is enabled on the cluster",
    ),
    # Video
    "video_fps": Figure(30.0, "source frames per second", "assumed", "typical camera"),
    "sample_every_n": Figure(5.0, "keep 1 frame in N", "template", "VideoSampleEveryN default"),
    "frame_kb": Figure(
        200.0, "KB per sampled 1080p JPEG (quality 85)", "assumed", "frame_extractor jpeg_quality"
    ),
    "yolo_fps_per_task": Figure(
        8.0,
        "frames/s one YOLO task (2 vCPU, ONNX, 640) sustains",
        "assumed",
        "bench/bench_yolo.py measures it; no arm64 figure recorded",
    ),
    # Jobs
    "job_work_s": Figure(
        0.5,
        "s of worker time per DICOM job",
        "assumed",
        "issue 14: 200 jobs ran at 5.0 jobs/s locally with CPU to spare (< 0.4 CPU-s/job)",
    ),
    "dicom_mb_per_job": Figure(
        5.0,
        "MB a worker fetches from the PACS (through the internal ALB)",
        "assumed",
        "pydicom samples are 0.1-10 MB",
    ),
    "ws_minutes_per_job": Figure(
        2.0, "WebSocket connection-minutes per job", "assumed", "a client connected around its job"
    ),
    "dicomweb_calls_per_job": Figure(
        10.0, "DICOMweb calls through the HTTP API per job (viewing)", "assumed", "usage pattern"
    ),
    "jobs_per_burst": Figure(
        20.0, "jobs arriving together (one worker scale-out)", "assumed", "usage pattern"
    ),
    "worker_tail_h": Figure(
        0.3,
        "h a worker stays after its burst",
        "assumed",
        "target tracking scales in after ~15 one-minute datapoints below target",
    ),
}


def fig(key: str) -> float:
    return FIGURES[key].value


@dataclass(frozen=True)
class TaskSize:
    vcpu: float
    memory_gb: float


# template.yaml defaults (parameters GrayscaleTaskCpu/Memory etc.; all RuntimePlatform ARM64)
GRAYSCALE = TaskSize(1.0, 2.0)
FRAME_EXTRACTOR = TaskSize(1.0, 2.0)  # plus EphemeralStorage 40 GiB (20 GB above the free 20)
YOLO = TaskSize(2.0, 4.0)
ALGORITHM_WORKER = TaskSize(1.0, 2.0)
PACS_API = TaskSize(0.5, 1.0)
LAMBDA_MEMORY_GB = 0.25  # Globals.Function.MemorySize 256
KINESIS_SHARDS = 2  # VideoStreamShardCount default
NAT_GATEWAYS = 1


def template_alarms() -> tuple[int, int]:
    """(alarms, metrics they name) in template.yaml (loops expanded): a metric-math alarm bills
    per metric."""
    from localcloud.template import load_yaml

    def metric_names(value: Any) -> int:
        if isinstance(value, dict):
            return ("MetricName" in value) + sum(metric_names(v) for v in value.values())
        if isinstance(value, list):
            return sum(metric_names(v) for v in value)
        return 0

    resources = load_yaml(ROOT / "template.yaml")["Resources"].values()
    alarms = [r for r in resources if r.get("Type") == "AWS::CloudWatch::Alarm"]
    return len(alarms), sum(metric_names(alarm.get("Properties")) for alarm in alarms)


# ------------------------------------------------------------------------------------------------
# Step Functions: transitions counted from the definitions
# ------------------------------------------------------------------------------------------------


def happy_path_transitions(
    definition: dict[str, Any], defaults: frozenset[str] = frozenset()
) -> int:
    """States entered by an execution that takes every Choice's first branch (its ``Default``
    for the Choices named in ``defaults``) and every Task's ``Next`` (no retry, no catch) until
    it ends: what Step Functions bills per execution."""
    states: dict[str, Any] = definition["States"]
    name: str | None = definition["StartAt"]
    entered = 0
    seen: set[str] = set()
    while name is not None:
        if name in seen:
            raise ValueError(f"the happy path loops at {name!r}")
        seen.add(name)
        entered += 1
        state = states[name]
        if state["Type"] in ("Succeed", "Fail") or state.get("End"):
            return entered
        if state["Type"] == "Choice":
            name = state["Default"] if name in defaults else state["Choices"][0]["Next"]
        else:
            name = state.get("Next")
    return entered


def definition_transitions(filename: str, defaults: frozenset[str] = frozenset()) -> int:
    path = ROOT / "statemachines" / filename
    return happy_path_transitions(json.loads(path.read_text(encoding="utf-8")), defaults)


# The image state machine's first Choice: its first branch is a batch, its Default one object.
PER_OBJECT_PATH = frozenset({"Batch?"})


def image_transitions(*, batched: bool) -> int:
    return definition_transitions(
        "image_processing.asl.json", frozenset() if batched else PER_OBJECT_PATH
    )


# ------------------------------------------------------------------------------------------------
# Fargate arithmetic
# ------------------------------------------------------------------------------------------------


def fargate_billed_seconds(running_s: float, minimum_s: float = 60.0) -> float:
    """Fargate bills whole seconds, at least ``minimum_s``."""
    return max(minimum_s, float(math.ceil(running_s)))


def image_task_running_s(objects: int, *, batched: bool) -> float:
    """Billed life of one grayscale task: billed start, interpreter, then the objects."""
    fixed = fig("task_billed_start_s") + fig("process_start_s")
    if not batched:
        return fixed + objects * fig("per_object_task_work_s")
    per_image = fig("batched_overhead_factor") * (fig("codec_s") + fig("transfer_s"))
    return fixed + objects * per_image


@dataclass(frozen=True)
class ImageTasks:
    tasks: int
    billed_task_seconds: float
    work_seconds: float  # decode + convert + encode only


def image_tasks(images: int, batch_size: int) -> ImageTasks:
    """Per-object mode is ``batch_size == 1``; batched is one task per ``batch_size`` objects
    (``ImageDispatchMode=batched``, ``ImageBatchSize``)."""
    if images < 0 or batch_size < 1:
        raise ValueError("images >= 0 and batch_size >= 1")
    batched = batch_size > 1
    full, rest = divmod(images, batch_size)
    billed = full * fargate_billed_seconds(
        image_task_running_s(batch_size, batched=batched), fig("fargate_minimum_s")
    )
    if rest:
        billed += fargate_billed_seconds(
            image_task_running_s(rest, batched=batched), fig("fargate_minimum_s")
        )
    return ImageTasks(full + (1 if rest else 0), billed, images * fig("codec_s"))


# ------------------------------------------------------------------------------------------------
# Cost lines
# ------------------------------------------------------------------------------------------------

Lines = dict[str, float]


def _add(lines: Lines, key: str, usd: float) -> None:
    lines[key] = lines.get(key, 0.0) + usd


def fixed_monthly() -> Lines:
    """What the deployed stack costs with no traffic (images pushed, services at their minimum)."""
    lines: Lines = {}
    _add(lines, "NAT gateway (hours)", NAT_GATEWAYS * HOURS_PER_MONTH * price("nat_hour"))
    _add(lines, "NAT public IPv4", NAT_GATEWAYS * HOURS_PER_MONTH * price("public_ipv4_hour"))
    _add(lines, "ALB (hours)", HOURS_PER_MONTH * price("alb_hour"))
    # health checks only: a small fraction of one LCU (assumed 0.05 LCU on average)
    _add(lines, "ALB (idle LCU)", 0.05 * HOURS_PER_MONTH * price("alb_lcu_hour"))
    for name, size in (("YOLO service (min 1 task)", YOLO), ("PACS API (min 1 task)", PACS_API)):
        _add(lines, name, SECONDS_PER_MONTH * fargate_second_usd(size.vcpu, size.memory_gb))
    _add(lines, "Kinesis shards", KINESIS_SHARDS * HOURS_PER_MONTH * price("kinesis_shard_hour"))
    _add(lines, "CloudWatch alarms", template_alarms()[1] * price("cw_alarm_metric_month"))
    _add(lines, "CloudWatch dashboard", price("cw_dashboard_month"))
    # JobSweeperFunction every 5 minutes, 512 MB, ~1 s (assumed)
    sweeps = SECONDS_PER_MONTH / 300
    _add(
        lines,
        "Lambda (sweeper, schedule)",
        sweeps * (price("lambda_request") + 0.5 * 1.0 * price("lambda_arm_gb_second")),
    )
    # SQS long polling while idle: four Lambda event source mappings on FIFO queues (results and
    # the three request DLQs) and one on a standard queue (ImageIntakeQueue), ~5 pollers x 3
    # receives/min each (assumed) + three workers at zero
    receives_per_mapping = 5 * 3 * 60 * HOURS_PER_MONTH
    _add(
        lines,
        "SQS idle polling",
        receives_per_mapping * (4 * price("sqs_fifo_request") + price("sqs_standard_request")),
    )
    # The always-on YOLO task polls each shard once a second (GetRecords is free in provisioned
    # mode) and heartbeats its lease table every 20 s
    heartbeats = SECONDS_PER_MONTH / 20 * (1 + KINESIS_SHARDS)
    _add(lines, "DynamoDB (YOLO leases)", heartbeats * price("dynamodb_wru"))
    return lines


@dataclass(frozen=True)
class ImageResult:
    images: int
    batch_size: int
    tasks: ImageTasks
    lines: Lines

    @property
    def total(self) -> float:
        return sum(self.lines.values())


def image_month(images: int, batch_size: int, *, months_kept: int = 12) -> ImageResult:
    tasks = image_tasks(images, batch_size)
    size = GRAYSCALE
    batched = batch_size > 1
    lines: Lines = {}
    _add(
        lines,
        "Fargate",
        tasks.billed_task_seconds * fargate_second_usd(size.vcpu, size.memory_gb),
    )
    transitions = image_transitions(batched=batched)
    _add(lines, "Step Functions", tasks.tasks * transitions * price("sfn_transition"))
    if batched:
        # S3 -> SQS (one message per object) -> dispatcher (one invocation per batch, reading the
        # batch in receives of 10 and deleting in batches of 10)
        dispatch_s = 0.2 + 0.001 * batch_size
        lambda_usd = tasks.tasks * (
            price("lambda_request") + LAMBDA_MEMORY_GB * dispatch_s * price("lambda_arm_gb_second")
        )
        sqs_buffer = images + 2 * math.ceil(images / 10)
        manifest_puts = manifest_gets = tasks.tasks  # one manifest per batch
    else:
        lambda_usd = images * (
            price("lambda_request")
            + LAMBDA_MEMORY_GB * fig("lambda_dispatch_s") * price("lambda_arm_gb_second")
        )
        sqs_buffer = 0
        manifest_puts = manifest_gets = 0
    _add(lines, "Lambda", lambda_usd)
    # per object: client PUT, task GET, output PUT, result sidecar PUT (RESULT_SIDECAR_PREFIX)
    _add(
        lines,
        "S3 requests",
        (3 * images + manifest_puts) * price("s3_put") + (images + manifest_gets) * price("s3_get"),
    )
    # ImageProcessingQueue: one result message per object, received and deleted by its reader
    _add(lines, "SQS", (3 * images + sqs_buffer) * price("sqs_standard_request"))
    log_gb = (images * fig("log_kb_per_object") + tasks.tasks * fig("log_kb_per_task")) * 1e3 / GB
    _add(lines, "CloudWatch Logs", log_gb * price("logs_ingest_gb"))
    nat_gb = tasks.tasks * fig("nat_kb_per_task") * 1e3 / GB
    _add(lines, "NAT data", nat_gb * price("nat_gb"))
    # storage this month: inputs kept (versioned, current versions never expire) for months_kept
    # months; outputs expire after 90 days (three months of them)
    stored_gb = (
        images
        * (months_kept * fig("image_input_kb") + min(3, months_kept) * fig("image_output_kb"))
        * 1e3
        / GB
    )
    _add(lines, "S3 storage", stored_gb * price("s3_standard_gb_month"))
    return ImageResult(images, batch_size, tasks, lines)


def video_month(hours: float) -> Lines:
    """``hours`` of video a month, one-hour files, frames sampled 1 in N onto the stream."""
    frames = hours * 3600 * fig("video_fps") / fig("sample_every_n")
    frame_bytes = fig("frame_kb") * 1e3
    lines: Lines = {}
    transitions = definition_transitions("video_ingest.asl.json")
    _add(lines, "Step Functions", hours * transitions * price("sfn_transition"))
    _add(
        lines,
        "Lambda",
        hours
        * (
            price("lambda_request")
            + LAMBDA_MEMORY_GB * fig("lambda_dispatch_s") * price("lambda_arm_gb_second")
        ),
    )
    # The extractor is paced by the stream: 2 shards x 1 MB/s of writes
    stream_bytes_s = KINESIS_SHARDS * 1e6
    extractor_s_per_hour = max(
        600.0, 3600 * fig("video_fps") / fig("sample_every_n") * frame_bytes / stream_bytes_s
    )
    ext = FRAME_EXTRACTOR
    per_hour = fargate_billed_seconds(extractor_s_per_hour) * (
        fargate_second_usd(ext.vcpu, ext.memory_gb) + 20 * price("fargate_ephemeral_gb_hour") / 3600
    )
    _add(lines, "Fargate (frame extractor)", hours * per_hour)
    # YOLO beyond the always-on task: frame-seconds above one task's month of capacity
    yolo_s = frames / fig("yolo_fps_per_task")
    extra_s = max(0.0, yolo_s - SECONDS_PER_MONTH)
    _add(
        lines, "Fargate (extra YOLO tasks)", extra_s * fargate_second_usd(YOLO.vcpu, YOLO.memory_gb)
    )
    units = math.ceil(fig("frame_kb") / 25)
    _add(lines, "Kinesis PUT units", frames * units * price("kinesis_put_unit"))
    # per frame: annotated JPEG + detections JSON PUT; summary GETs every JSON (video_tracker)
    _add(lines, "S3 requests", frames * (2 * price("s3_put") + price("s3_get")))
    # frames kept 14 days (VideoFramesBucket lifecycle): about half a month of them stored
    frames_gb = frames * (frame_bytes + 2e3) * 0.5 / GB
    _add(lines, "S3 storage (frames)", frames_gb * price("s3_standard_gb_month"))
    # VideoProcessingQueue (FIFO): send, receive, delete per frame
    _add(lines, "SQS FIFO", frames * 3 * price("sqs_fifo_request"))
    _add(lines, "DynamoDB (checkpoints)", frames * price("dynamodb_wru"))
    # Kinesis traffic leaves the private subnets through the NAT: PutRecords in, GetRecords out
    _add(lines, "NAT data (Kinesis twice)", 2 * frames * frame_bytes / GB * price("nat_gb"))
    _add(lines, "CloudWatch Logs", frames * 1e3 / GB * price("logs_ingest_gb"))
    return lines


def jobs_month(jobs: int) -> Lines:
    """DICOM jobs: REST submit, router, FIFO request queue, worker, SNS FIFO, WebSocket push."""
    lines: Lines = {}
    _add(lines, "API Gateway REST", jobs * price("apigw_rest_request"))
    _add(
        lines,
        "API Gateway WebSocket",
        jobs
        * (
            price("apigw_ws_message")
            + fig("ws_minutes_per_job") * price("apigw_ws_connection_minute")
        ),
    )
    _add(
        lines,
        "API Gateway HTTP",
        jobs * fig("dicomweb_calls_per_job") * price("apigw_http_request"),
    )
    # the worker's PACS fetch crosses the internal ALB: 1 LCU = 1 GB processed per hour
    _add(lines, "ALB LCU (PACS)", jobs * fig("dicom_mb_per_job") * 1e6 / GB * price("alb_lcu_hour"))
    # router + result push (at most one per job; batches of up to 10 at load)
    _add(
        lines,
        "Lambda",
        2
        * jobs
        * (price("lambda_request") + LAMBDA_MEMORY_GB * 0.15 * price("lambda_arm_gb_second")),
    )
    # request queue: send, receive, a heartbeat, delete; results queue: receive, delete
    _add(lines, "SQS FIFO", jobs * 6 * price("sqs_fifo_request"))
    _add(
        lines,
        "SNS FIFO",
        jobs
        * (
            price("sns_fifo_publish")
            + price("sns_fifo_delivery")
            + 2e3 / GB * price("sns_fifo_payload_gb")
        ),
    )
    # router put + rate counter, worker claim/state/result/published updates; a few reads
    _add(lines, "DynamoDB", jobs * (6 * price("dynamodb_wru") + 4 * price("dynamodb_rru")))
    _add(lines, "S3 requests", jobs * (2 * price("s3_put") + 2 * price("s3_get")))
    bursts = math.ceil(jobs / fig("jobs_per_burst"))
    worker_s = min(
        3 * SECONDS_PER_MONTH,  # three services, one task each at most busy all month
        bursts * fig("worker_tail_h") * 3600 + jobs * fig("job_work_s"),
    )
    w = ALGORITHM_WORKER
    _add(lines, "Fargate (algorithm workers)", worker_s * fargate_second_usd(w.vcpu, w.memory_gb))
    _add(lines, "NAT data", (bursts * 100e3 + jobs * 5e3) / GB * price("nat_gb"))
    _add(lines, "CloudWatch Logs", jobs * 4e3 / GB * price("logs_ingest_gb"))
    return lines


def poll_client_hour(every_s: float = 5.0) -> float:
    """One poll-mode client asking ``GET /results`` every ``every_s`` seconds for an hour: a REST
    call, a ResultsProxyFunction invocation (256 MB, ~100 ms assumed) and one JobsTable Query
    (~1 read request unit assumed) each time."""
    calls = 3600 / every_s
    per_call = (
        price("apigw_rest_request")
        + price("lambda_request")
        + LAMBDA_MEMORY_GB * 0.1 * price("lambda_arm_gb_second")
        + price("dynamodb_rru")
    )
    return calls * per_call


# ------------------------------------------------------------------------------------------------
# Capacity
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quota:
    name: str
    value: float
    unit: str
    source: str


QUOTAS: dict[str, Quota] = {
    "fargate_launch_sustained": Quota(
        "Fargate task launch rate (sustained)",
        20,
        "tasks/s per account and Region (bucket 100)",
        "https://docs.aws.amazon.com/AmazonECS/latest/userguide/throttling.html",
    ),
    "runtask_calls": Quota(
        "ECS RunTask API (Fargate)",
        20,
        "calls/s, up to 10 tasks per call",
        "https://docs.aws.amazon.com/AmazonECS/latest/userguide/throttling.html",
    ),
    "sfn_start_execution": Quota(
        "Step Functions StartExecution (Standard)",
        300,
        "calls/s refill, bucket 1,300 (us-east-1) - recalled, verify",
        "https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html",
    ),
    "sfn_state_transitions": Quota(
        "Step Functions state transitions (Standard)",
        5000,
        "per s refill, bucket 5,000 (us-east-1) - recalled; new accounts start lower",
        "https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html",
    ),
    "kinesis_shard_write": Quota(
        "Kinesis shard writes",
        1e6,
        "bytes/s (or 1,000 records/s) per shard",
        "https://docs.aws.amazon.com/streams/latest/dev/working-with-streams.html",
    ),
    "sns_fifo_throughput": Quota(
        "SNS FIFO topic throughput",
        300,
        "messages/s (or 10 MB/s) per topic",
        "https://aws.amazon.com/sns/features/",
    ),
    "sns_fifo_subscriptions": Quota(
        "SNS FIFO subscriptions",
        100,
        "per FIFO topic",
        "https://aws.amazon.com/sns/features/",
    ),
    "sqs_fifo_tps": Quota(
        "SQS FIFO throughput (no high-throughput mode)",
        300,
        "calls/s per API action per queue (3,000 msg/s batched)",
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/"
        "troubleshooting-fifo-throttling-issues.html",
    ),
    "lambda_concurrency": Quota(
        "Lambda concurrent executions",
        1000,
        "per account and Region; 'new AWS accounts have reduced concurrency' quotas",
        "https://docs.aws.amazon.com/lambda/latest/dg/limits.html",
    ),
    "apigw_account": Quota(
        "API Gateway account throttle",
        10000,
        "requests/s across REST, HTTP, WebSocket",
        "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html",
    ),
    "apigw_ws_connect": Quota(
        "API Gateway WebSocket new connections",
        500,
        "per s per account and Region",
        "https://docs.aws.amazon.com/apigateway/latest/developerguide/"
        "apigateway-execution-service-websocket-limits-table.html",
    ),
    "stage_throttle": Quota(
        "This stack's stage throttle (ApiThrottleRateLimit)",
        50,
        "requests/s, burst 100 (template default)",
        "template.yaml MethodSettings / DefaultRouteSettings",
    ),
}


@dataclass(frozen=True)
class ImageCapacity:
    images: int
    batch_size: int
    average_images_s: float
    peak_images_s: float
    launches_s: float
    concurrent_tasks: float
    concurrent_vcpu: float
    launch_quota_share: float


def image_capacity(images: int, batch_size: int, peak_factor: float = 3.0) -> ImageCapacity:
    """Little's law at the peak rate: tasks alive = launches/s x (start latency + billed life)."""
    average = images / SECONDS_PER_MONTH
    peak = average * peak_factor
    launches = peak / batch_size
    life = (
        fig("task_start_latency_s")
        - fig("task_billed_start_s")
        + image_task_running_s(batch_size, batched=batch_size > 1)
    )
    concurrent = launches * life
    return ImageCapacity(
        images,
        batch_size,
        average,
        peak,
        launches,
        concurrent,
        concurrent * GRAYSCALE.vcpu,
        launches / QUOTAS["fargate_launch_sustained"].value,
    )


@dataclass(frozen=True)
class VideoCapacity:
    hours: float
    frames_s: float
    stream_share: float  # of the shards' write bandwidth
    yolo_tasks_needed: float
    ingest_minutes_per_video_hour: float


def video_capacity(hours: float) -> VideoCapacity:
    """Average load of ``hours`` of video a month spread evenly, against the stream's write
    bandwidth (shards x 1 MB/s) and the YOLO tasks (at most one per shard)."""
    frames_s = hours * 3600 * fig("video_fps") / fig("sample_every_n") / SECONDS_PER_MONTH
    bandwidth = KINESIS_SHARDS * QUOTAS["kinesis_shard_write"].value
    frames_per_video_hour = 3600 * fig("video_fps") / fig("sample_every_n")
    return VideoCapacity(
        hours,
        frames_s,
        frames_s * fig("frame_kb") * 1e3 / bandwidth,
        frames_s / fig("yolo_fps_per_task"),
        frames_per_video_hour * fig("frame_kb") * 1e3 / bandwidth / 60,
    )


def burst_before_failures() -> float:
    """Objects a burst may start at once before RunTask throttling outlasts the state machine's
    ECS retries (4 attempts, 5 s doubling: 5+10+20+40 s) at the 100-task bucket + 20/s refill."""
    retry_window_s = sum(5 * 2**i for i in range(4))
    return 100 + QUOTAS["fargate_launch_sustained"].value * retry_window_s


# ------------------------------------------------------------------------------------------------
# Printing
# ------------------------------------------------------------------------------------------------


def usd(value: float) -> str:
    if value >= 100:
        return f"${value:,.0f}"
    if value >= 1:
        return f"${value:,.2f}"
    if value == 0:
        return "$0"
    if value < 0.0001:
        return "<$0.0001"
    text = f"{value:.4f}".rstrip("0")
    return "$" + (text + "0" if len(text.split(".")[1]) < 2 else text)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    out.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(out)


IMAGE_VOLUMES = (1_000, 100_000, 10_000_000)
BATCH_SIZES = (1, 100, 1_000)
VIDEO_HOURS = (10, 100, 1_000)
JOB_VOLUMES = (1_000, 10_000, 100_000)


def mode_name(batch_size: int) -> str:
    return "per-object" if batch_size == 1 else f"batched B={batch_size:,}"


def render() -> str:
    parts: list[str] = []
    fixed = fixed_monthly()
    fixed_total = sum(fixed.values())

    parts.append("### Fixed monthly cost of the deployed stack (no traffic)\n")
    parts.append(
        table(
            ("line", "USD / month"),
            [(k, usd(v)) for k, v in fixed.items()] + [("**total**", f"**{usd(fixed_total)}**")],
        )
    )

    columns = (
        "Fargate",
        "Step Functions",
        "Lambda",
        "S3 requests",
        "SQS",
        "CloudWatch Logs",
        "NAT data",
        "S3 storage",
    )
    parts.append("\n### Images: per-object vs batched (variable cost, USD / month)\n")
    rows = []
    for images in IMAGE_VOLUMES:
        for b in BATCH_SIZES:
            r = image_month(images, b)
            rows.append(
                [f"{images:,}", mode_name(b), f"{r.tasks.tasks:,}"]
                + [usd(r.lines.get(c, 0.0)) for c in columns]
                + [f"**{usd(r.total)}**", usd(r.total / images * 1000), usd(r.total + fixed_total)]
            )
    parts.append(
        table(
            [
                "images",
                "mode",
                "tasks",
                *columns,
                "variable total",
                "per 1,000 images",
                "with fixed stack",
            ],
            rows,
        )
    )

    parts.append("\n### Images: Fargate billed time vs the codec work\n")
    rows = []
    for b in BATCH_SIZES:
        t = image_tasks(10_000, b)
        rows.append(
            [
                mode_name(b),
                f"{t.billed_task_seconds / 10_000:.3f}",
                f"{t.work_seconds / 10_000:.3f}",
                f"{t.billed_task_seconds / t.work_seconds:,.0f}x",
                f"{t.tasks / 10:,.0f}",
            ]
        )
    parts.append(
        table(
            (
                "mode",
                "billed task-s per image",
                "codec s per image",
                "billed / work",
                "task starts per 1,000 images",
            ),
            rows,
        )
    )

    parts.append("\n### Video (variable cost, USD / month; the always-on YOLO task is fixed)\n")
    video_cols = sorted({k for h in VIDEO_HOURS for k in video_month(h)})
    rows = []
    for h in VIDEO_HOURS:
        v = video_month(h)
        total = sum(v.values())
        rows.append(
            [f"{h:,}"]
            + [usd(v.get(c, 0.0)) for c in video_cols]
            + [f"**{usd(total)}**", usd(total / h)]
        )
    parts.append(table(["video hours", *video_cols, "total", "per video hour"], rows))

    parts.append("\n### DICOM jobs (variable cost, USD / month)\n")
    job_cols = sorted({k for n in JOB_VOLUMES for k in jobs_month(n)})
    rows = []
    for n in JOB_VOLUMES:
        j = jobs_month(n)
        total = sum(j.values())
        rows.append(
            [f"{n:,}"]
            + [usd(j.get(c, 0.0)) for c in job_cols]
            + [f"**{usd(total)}**", usd(total / n * 1000)]
        )
    parts.append(table(["jobs", *job_cols, "total", "per 1,000 jobs"], rows))

    parts.append(
        f"\nA poll-mode client asking `GET /results` every 5 s costs {usd(poll_client_hour())} "
        "per hour it polls (not in the job totals above)."
    )

    parts.append("\n### Image capacity at a peak of 3x the monthly average\n")
    rows = []
    for images in IMAGE_VOLUMES:
        for b in BATCH_SIZES:
            c = image_capacity(images, b)
            rows.append(
                [
                    f"{images:,}",
                    mode_name(b),
                    f"{c.average_images_s:.3f}",
                    f"{c.peak_images_s:.3f}",
                    f"{c.launches_s:.4f}",
                    f"{c.launch_quota_share:.1%}",
                    f"{c.concurrent_tasks:,.1f}",
                    f"{c.concurrent_vcpu:,.1f}",
                ]
            )
    parts.append(
        table(
            (
                "images / month",
                "mode",
                "avg images/s",
                "peak images/s",
                "task launches/s",
                "of the 20/s launch quota",
                "tasks alive",
                "vCPU alive",
            ),
            rows,
        )
    )
    parts.append(
        f"\nA burst of more than about {burst_before_failures():,.0f} objects at once outlasts "
        "the state machine's ECS retries (per-object mode)."
    )

    parts.append(
        f"\n### Video capacity ({KINESIS_SHARDS} shards, at most {KINESIS_SHARDS} YOLO tasks)\n"
    )
    rows = []
    for h in VIDEO_HOURS:
        vc = video_capacity(h)
        rows.append(
            [
                f"{h:,}",
                f"{vc.frames_s:.2f}",
                f"{vc.stream_share:.0%}",
                f"{vc.yolo_tasks_needed:.2f}",
                f"{vc.ingest_minutes_per_video_hour:.0f}",
            ]
        )
    parts.append(
        table(
            (
                "video hours / month",
                "avg frames/s",
                "of stream write bandwidth",
                "YOLO tasks busy (avg)",
                "ingest minutes per video hour",
            ),
            rows,
        )
    )

    parts.append("\n### Prices used\n")
    parts.append(
        table(
            ("key", "USD", "unit", "status", "read on", "source"),
            [
                (k, f"{p.usd:.10g}", p.unit, p.status, p.read_on, p.source)
                for k, p in PRICES.items()
            ],
        )
    )
    parts.append("\n### Work figures used\n")
    parts.append(
        table(
            ("key", "value", "unit", "status", "source"),
            [(k, f"{f.value:g}", f.unit, f.status, f.source) for k, f in FIGURES.items()],
        )
    )
    alarms, alarm_metrics = template_alarms()
    parts.append(
        f"\nAlarms in template.yaml: {alarms}, naming {alarm_metrics} metrics (billed per metric)."
    )
    parts.append(
        "\nStep Functions transitions per execution (happy path, from statemachines/): "
        f"image {image_transitions(batched=False)} per object, "
        f"{image_transitions(batched=True)} per batch, "
        f"video {definition_transitions('video_ingest.asl.json')}."
    )
    return "\n".join(parts)


def with_figure(key: str, value: float) -> None:
    """Override one work figure (for what-if runs from a REPL)."""
    FIGURES[key] = replace(FIGURES[key], value=value)


def main() -> None:
    print(render())


if __name__ == "__main__":
    main()
