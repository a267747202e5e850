"""Draw detections on a frame (plain OpenCV: no Ultralytics plotting, which fetches fonts)."""

from __future__ import annotations

import cv2
import numpy as np

from pipeline_common.contracts.video import Detection

_PALETTE = [
    (56, 56, 255),
    (151, 157, 255),
    (31, 112, 255),
    (29, 178, 255),
    (49, 210, 207),
    (10, 249, 72),
    (23, 204, 146),
    (134, 219, 61),
    (52, 147, 26),
    (187, 212, 0),
]


def annotate(image: np.ndarray, detections: list[Detection]) -> np.ndarray:
    out = image.copy()
    thickness = max(1, round(sum(out.shape[:2]) / 600))
    for det in detections:
        color = _PALETTE[det.class_id % len(_PALETTE)]
        p1 = (int(det.box.x1), int(det.box.y1))
        p2 = (int(det.box.x2), int(det.box.y2))
        cv2.rectangle(out, p1, p2, color, thickness, cv2.LINE_AA)
        label = f"{det.class_name} {det.confidence:.2f}"
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        top = max(p1[1] - th - base, 0)
        cv2.rectangle(out, (p1[0], top), (p1[0] + tw, top + th + base), color, -1)
        cv2.putText(
            out,
            label,
            (p1[0], top + th),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
    return out
