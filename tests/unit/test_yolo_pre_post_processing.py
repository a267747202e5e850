"""The ONNX backend's numpy pre/post-processing against Ultralytics' own functions."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.support.video_samples import photo, use_container

use_container("yolo_stream")

from yolo_stream.detection.letterbox import letterbox, letterbox_shape  # noqa: E402
from yolo_stream.detection.postprocess import decode_yolov8, nms, scale_boxes  # noqa: E402

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
augment = pytest.importorskip("ultralytics.data.augment")
ul_nms = pytest.importorskip("ultralytics.utils.nms")
ul_ops = pytest.importorskip("ultralytics.utils.ops")


@pytest.mark.parametrize(
    ("shape", "rect"),
    [
        ((1080, 810), True),
        ((720, 1280), True),
        ((720, 1280), False),
        ((333, 997), True),
        ((641, 17), False),
    ],
)
def test_letterbox_is_pixel_identical_to_ultralytics(shape, rect):
    # Given a real photo resized to an awkward shape
    image = cv2.resize(cv2.imread(str(photo("bus.jpg"))), (shape[1], shape[0]))

    # When both letterbox it to 640
    ours = letterbox(image, (640, 640), rect=rect).image
    theirs = augment.LetterBox((640, 640), auto=rect, stride=32)(image=image)

    # Then the network inputs are identical, and the shape helper agrees
    assert ours.shape == theirs.shape
    assert np.array_equal(ours, theirs)
    assert letterbox_shape(shape, (640, 640), rect=rect) == ours.shape[:2]


def test_16_9_frames_letterbox_to_384x640_in_rect_mode():
    assert letterbox_shape((720, 1280), (640, 640), rect=True) == (384, 640)
    assert letterbox_shape((720, 1280), (640, 640), rect=False) == (640, 640)


def test_nms_keeps_the_same_boxes_as_torchvision():
    # Given many overlapping random boxes
    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 500, (400, 2)).astype(np.float32)
    wh = rng.uniform(10, 120, (400, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + wh], axis=1)
    scores = rng.uniform(0, 1, 400).astype(np.float32)

    # When both suppress at IoU 0.5
    ours = nms(boxes, scores, 0.5)
    theirs = torchvision.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), 0.5).numpy()

    # Then they keep the same boxes in the same order
    assert ours.tolist() == theirs.tolist()


def test_scale_boxes_matches_ultralytics():
    boxes = np.array([[10.5, 20.25, 300.0, 370.0], [0, 0, 640, 384]], np.float32)
    ours = scale_boxes(boxes, (384, 640), (720, 1280))
    theirs = ul_ops.scale_boxes((384, 640), torch.from_numpy(boxes.copy()), (720, 1280)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_decoding_a_raw_output_matches_ultralytics_nms():
    # Given a dense raw output with two classes and many overlapping candidates
    rng = np.random.default_rng(3)
    anchors = 2000
    cxcy = rng.uniform(0, 640, (2, anchors))
    wh = rng.uniform(8, 200, (2, anchors))
    cls = rng.uniform(0, 1, (2, anchors)) ** 4
    raw = np.concatenate([cxcy, wh, cls])[None].astype(np.float32)

    # When both decode it (conf 0.25, IoU 0.7, 300 detections) for a 640x640 input
    ours = decode_yolov8(
        raw,
        network_shape=(640, 640),
        source_shape=(640, 640),
        conf_threshold=0.25,
        iou_threshold=0.7,
        max_detections=300,
    )
    (theirs,) = ul_nms.non_max_suppression(torch.from_numpy(raw), 0.25, 0.7, max_det=300)
    theirs = theirs.numpy()

    # Then the same detections come out in the same order
    assert len(ours.scores) == len(theirs) > 10
    np.testing.assert_allclose(ours.boxes, theirs[:, :4].clip(0, 640), atol=1e-3)
    np.testing.assert_allclose(ours.scores, theirs[:, 4], rtol=1e-6)
    assert ours.class_ids.tolist() == theirs[:, 5].astype(int).tolist()
