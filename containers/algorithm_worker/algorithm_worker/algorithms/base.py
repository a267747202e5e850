"""What an algorithm plugin is: an id, a description and a segmentation function.

``segment`` gets the 8-bit display image (the file's VOI window applied) and the slice with its
modality values and pixel spacing; it returns a boolean mask of the same height and width. It
must be deterministic: the same input always gives the same mask.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from algorithm_worker.dicom_io import Slice

Segmenter = Callable[[np.ndarray, Slice], np.ndarray]


@dataclass(frozen=True)
class Algorithm:
    algo_id: str
    description: str
    version: str
    segment: Segmenter


def min_object_area(shape: tuple[int, ...], fraction: float) -> int:
    """Smallest component kept: a fraction of the image, but never below 4 pixels (noise)."""
    return max(4, round(fraction * shape[0] * shape[1]))


def keep_labels(labels: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Mask of the pixels whose label is in ``keep`` (label 0, the background, never is)."""
    return np.isin(labels, keep[keep > 0])
