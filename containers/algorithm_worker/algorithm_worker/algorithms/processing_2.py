"""processing_2: windowing, CLAHE, Canny edges, morphology.

The display image already carries the file's VOI window. CLAHE (clip 2.0, 8x8 tiles) evens out
local contrast so edges show in dark and bright regions alike, and a light Gaussian (sigma 1 px)
keeps CLAHE's amplified noise from becoming edges. Canny's high threshold is the 90th percentile
of the non-zero gradient magnitudes (the strongest tenth of the edges, whatever the contrast),
the low one half of it. Closing (3x3 ellipse, twice) joins broken fragments into contours.
"""

from __future__ import annotations

import cv2
import numpy as np

from algorithm_worker.algorithms.base import Algorithm
from algorithm_worker.dicom_io import Slice

CLAHE_CLIP_LIMIT = 2.0
CLAHE_TILES = (8, 8)
SIGMA_PX = 1.0
EDGE_PERCENTILE = 90
CLOSE_ITERATIONS = 2


def segment(display: np.ndarray, _slice: Slice) -> np.ndarray:
    clahe = cv2.createCLAHE(clipLimit=CLAHE_CLIP_LIMIT, tileGridSize=CLAHE_TILES)
    equalised = cv2.GaussianBlur(
        clahe.apply(display), (0, 0), sigmaX=SIGMA_PX, borderType=cv2.BORDER_REFLECT
    )
    # The same L2 magnitude of 3x3 Sobel derivatives that Canny computes with L2gradient=True.
    gx = cv2.Sobel(equalised, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(equalised, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.hypot(gx, gy)
    gradients = magnitude[magnitude > 0]
    if gradients.size == 0:  # a flat image has no edges
        return np.zeros(display.shape, dtype=bool)
    high = float(np.percentile(gradients, EDGE_PERCENTILE))
    edges = cv2.Canny(equalised, 0.5 * high, high, L2gradient=True)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    return cv2.morphologyEx(edges, cv2.MORPH_CLOSE, kernel, iterations=CLOSE_ITERATIONS) > 0


ALGORITHM = Algorithm(
    algo_id="processing_2",
    description="windowing + CLAHE + Canny + morphology",
    version="1.0.0",
    segment=segment,
)
