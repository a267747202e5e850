"""The algorithm registry. Adding an algorithm: one module with an ``ALGORITHM``, one entry
below, and (in template.yaml) its request queue and worker service with ``ALGO_ID`` set."""

from __future__ import annotations

from algorithm_worker.algorithms import processing_1, processing_2, processing_3
from algorithm_worker.algorithms.base import Algorithm

REGISTRY: dict[str, Algorithm] = {
    module.ALGORITHM.algo_id: module.ALGORITHM
    for module in (processing_1, processing_2, processing_3)
}

__all__ = ["REGISTRY", "Algorithm"]
