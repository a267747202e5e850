"""processing_1: Gaussian smoothing, a global threshold, connected components.

Smoothing (sigma 1.5 px) suppresses pixel noise; the threshold (mean + 0.5 standard deviations of
the smoothed image) keeps the structures brighter than the bulk of the image; components smaller
than 0.05 % of the image are noise and are dropped.
"""

from __future__ import annotations

import cv2
import numpy as np

from algorithm_worker.algorithms.base import Algorithm, keep_labels, min_object_area
from algorithm_worker.dicom_io import Slice

SIGMA_PX = 1.5
STD_FACTOR = 0.5
MIN_AREA_FRACTION = 0.0005


def segment(display: np.ndarray, _slice: Slice) -> np.ndarray:
    smooth = cv2.GaussianBlur(display, (0, 0), sigmaX=SIGMA_PX, borderType=cv2.BORDER_REFLECT)
    threshold = float(smooth.mean()) + STD_FACTOR * float(smooth.std())
    binary = (smooth > threshold).astype(np.uint8)
    _count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    areas = stats[:, cv2.CC_STAT_AREA]
    keep = np.flatnonzero(areas >= min_object_area(display.shape, MIN_AREA_FRACTION))
    return keep_labels(labels, keep)


ALGORITHM = Algorithm(
    algo_id="processing_1",
    description="Gaussian smoothing + threshold + connected components",
    version="1.0.0",
    segment=segment,
)
