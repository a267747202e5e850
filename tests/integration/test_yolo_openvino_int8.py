"""OpenVINO's int8 step and backend on the packaged person detector: the step
(``yolo_stream.quantize_openvino``) turns our own ONNX export into an NNCF int8 IR that the
``openvino-int8`` backend runs, reporting itself, with the same message contract as FP32 and
detection agreement at the floor; under the floor the step stops with a reason and writes
nothing."""

from __future__ import annotations

import pytest

from tests.support.video_samples import fall_model, photo, use_container

use_container("yolo_stream")
pytest.importorskip("ultralytics")
pytest.importorskip("nncf")

import openvino as ov  # noqa: E402

from pipeline_common.contracts.video import Detection  # noqa: E402
from yolo_stream import quantize_openvino as step  # noqa: E402
from yolo_stream.agreement import F1_FLOOR, agreement  # noqa: E402
from yolo_stream.detection import DetectorConfig, load_detector  # noqa: E402
from yolo_stream.detection.openvino_backend import cpu_has_bf16  # noqa: E402
from yolo_stream.export import export_onnx  # noqa: E402
from yolo_stream.quantize import package_photos, validation_frames  # noqa: E402


@pytest.fixture(scope="module")
def person(tmp_path_factory):
    return export_onnx(str(fall_model("best.pt")), tmp_path_factory.mktemp("ov") / "person.onnx")


def test_openvino_int8_step_meets_the_floor_and_the_backend_keeps_the_contract(person):
    # Given the person detector's int8 IR made by the step as the image build makes it, with its
    # recorded FP32 operations (under a minute)
    ir, checked = step.quantize_openvino(person, person.with_name("person.int8.xml"))
    ref = load_detector(DetectorConfig(str(person), backend="onnx", threads=2))
    q = load_detector(DetectorConfig(str(person), backend="openvino-int8", threads=2))
    # The step's validation frames: enough boxes that one more or less is not the verdict
    frames = validation_frames(package_photos())

    # When both detect on them, the int8 model loaded from its file by the backend
    pairs = [(ref.detect(f).detections, q.detect(f).detections) for f in frames]
    result = agreement(pairs)

    # Then the backend found the IR next to the FP32 model and says what ran, the step checked
    # agreement on its own validation frames, and the detections agree at the floor that lets
    # `auto` pick it, in the same contract as FP32
    assert ir.with_suffix(".bin").is_file()
    assert q.backend == f"openvino-int8-{'bf16' if cpu_has_bf16() else 'fp32'}/CPU"
    assert q.model_id.startswith("person.int8.xml@")
    assert q.names == ref.names == {0: "Normal", 1: "Fall"}
    assert checked.frames > 100
    assert checked.f1 >= F1_FLOOR, checked.as_dict()
    recorded = ov.Core().read_model(str(ir)).get_rt_info(["framework", "quantization"]).astype(str)
    assert "recorded FP32 operations" in recorded
    assert result.frames == checked.frames
    assert result.reference > 100
    assert result.f1 >= F1_FLOOR, result.as_dict()
    for _, detections in pairs:
        assert all(isinstance(d, Detection) for d in detections)
        assert all(0 <= d.box.x2 <= 1280 and 0 <= d.box.y2 <= 720 for d in detections)


def test_openvino_int8_step_under_the_floor_stops_with_a_reason_and_writes_nothing(
    person, monkeypatch
):
    # Given a floor no int8 model can meet (agreement with FP32 is at most 1.0)
    monkeypatch.setattr(step, "F1_FLOOR", 1.01)
    out = person.with_name("never.int8.xml")

    # When the step runs without accuracy control, Then it says how far it got and what to do
    with pytest.raises(ValueError, match="rerun with --accuracy-control"):
        step.quantize_openvino(
            person, out, photos=[photo("bus.jpg"), photo("zidane.jpg")], per_photo=1
        )
    assert not out.exists()


def test_openvino_int8_step_refuses_a_model_whose_agreement_cannot_be_measured(tmp_path):
    # Given a yolov8n-shaped model with random weights: it detects nothing on the photos, so any
    # int8 model would agree with it vacuously
    fp32 = export_onnx("yolov8n.yaml", tmp_path / "yolov8n.onnx", imgsz=320)
    out = tmp_path / "yolov8n.int8.xml"

    # When the step runs, Then it says why it cannot judge the int8 model and writes nothing
    with pytest.raises(step.UnderFloorError, match="cannot be measured"):
        step.quantize_openvino(
            fp32, out, photos=[photo("bus.jpg"), photo("zidane.jpg")], per_photo=1, img_size=320
        )
    assert not out.exists()
