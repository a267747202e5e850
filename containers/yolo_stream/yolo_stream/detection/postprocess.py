"""YOLOv8 output decoding, class-aware NMS and box rescaling in numpy, following Ultralytics'
``non_max_suppression`` (best class per box, class offset ``max_wh``, torchvision's IoU) and
``scale_boxes`` (per-axis gain from the rounded resized size), so results match its predictor."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_WH = 7680  # class offset that keeps boxes of different classes from suppressing each other
MAX_NMS = 30000


@dataclass(frozen=True)
class RawDetections:
    boxes: np.ndarray  # (n, 4) float32 xyxy in source pixels
    scores: np.ndarray  # (n,)
    class_ids: np.ndarray  # (n,) int


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy NMS (torchvision semantics: areas without +1, suppress IoU > threshold);
    indices of the kept boxes by decreasing score."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1) * (y2 - y1)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        h = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = w * h
        iou = inter / (areas[i] + areas[rest] - inter + 1e-12)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def scale_boxes(
    boxes: np.ndarray, network_shape: tuple[int, int], source_shape: tuple[int, int]
) -> np.ndarray:
    """Undo the letterbox: network (h, w) pixels -> source (h, w) pixels, clipped to the frame."""
    gain = min(network_shape[0] / source_shape[0], network_shape[1] / source_shape[1])
    new_h, new_w = (max(round(x * gain), 1) for x in source_shape)
    gain_y, gain_x = new_h / source_shape[0], new_w / source_shape[1]
    pad_x = round((network_shape[1] - new_w) / 2 - 0.1)
    pad_y = round((network_shape[0] - new_h) / 2 - 0.1)
    out = boxes.astype(np.float32, copy=True)
    out[:, [0, 2]] = (out[:, [0, 2]] - pad_x) / gain_x
    out[:, [1, 3]] = (out[:, [1, 3]] - pad_y) / gain_y
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, source_shape[1])
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, source_shape[0])
    return out


def decode_yolov8(
    output: np.ndarray,
    *,
    network_shape: tuple[int, int],
    source_shape: tuple[int, int],
    conf_threshold: float,
    iou_threshold: float,
    max_detections: int,
) -> RawDetections:
    """``output``: (1, 4 + classes, anchors) as YOLOv8/11 detect heads export it (cx, cy, w, h)."""
    pred = np.asarray(output[0], dtype=np.float32).T  # (anchors, 4 + nc)
    class_scores = pred[:, 4:]
    class_ids = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(pred)), class_ids]
    keep = scores > conf_threshold
    pred, scores, class_ids = pred[keep], scores[keep], class_ids[keep]
    if len(pred) > MAX_NMS:
        top = np.argsort(-scores, kind="stable")[:MAX_NMS]
        pred, scores, class_ids = pred[top], scores[top], class_ids[top]
    cx, cy, w, h = pred[:, 0], pred[:, 1], pred[:, 2], pred[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    kept = nms(boxes + class_ids[:, None] * MAX_WH, scores, iou_threshold)[:max_detections]
    return RawDetections(
        boxes=scale_boxes(boxes[kept], network_shape, source_shape),
        scores=scores[kept],
        class_ids=class_ids[kept].astype(np.int64),
    )
