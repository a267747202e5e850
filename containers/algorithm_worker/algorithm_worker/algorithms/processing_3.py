"""processing_3: Otsu thresholds, border clearing, small-object removal.

Two Otsu passes split the smoothed image into three classes (background, tissue, bright
structures): the first separates background from the rest, the second the rest into tissue and
the bright structures that are kept (a recursive three-class Otsu; a single pass would keep all
the tissue, which in a cropped image touches every border). Components touching the image
border are removed (cropped structures, table, air), and so are those smaller than 0.1 % of the
image.
"""

from __future__ import annotations

import cv2
import numpy as np

from algorithm_worker.algorithms.base import Algorithm, keep_labels, min_object_area
from algorithm_worker.dicom_io import Slice

SIGMA_PX = 1.0
MIN_AREA_FRACTION = 0.001


def _otsu(values: np.ndarray) -> float:
    threshold, _ = cv2.threshold(values.reshape(1, -1), 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return float(threshold)


def segment(display: np.ndarray, _slice: Slice) -> np.ndarray:
    smooth = cv2.GaussianBlur(display, (0, 0), sigmaX=SIGMA_PX, borderType=cv2.BORDER_REFLECT)
    background = _otsu(smooth)
    foreground = smooth[smooth > background]
    threshold = _otsu(foreground) if foreground.size else background
    binary = (smooth > threshold).astype(np.uint8)
    _count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    on_border = np.unique(
        np.concatenate([labels[0, :], labels[-1, :], labels[:, 0], labels[:, -1]])
    )
    large = np.flatnonzero(
        stats[:, cv2.CC_STAT_AREA] >= min_object_area(display.shape, MIN_AREA_FRACTION)
    )
    return keep_labels(labels, np.setdiff1d(large, on_border))


ALGORITHM = Algorithm(
    algo_id="processing_3",
    description="Otsu + border and small-object cleanup",
    version="1.0.0",
    segment=segment,
)
