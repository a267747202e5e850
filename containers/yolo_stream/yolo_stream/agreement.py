"""Detection agreement between a candidate backend and the FP32 reference: what users need from a
faster model is the same detections, so boxes are matched (same class, IoU >= 0.5, greedy by the
reference's confidence) and precision, recall and F1 are counted over every frame."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pipeline_common.contracts.video import Detection

IOU_MATCH = 0.5
F1_FLOOR = 0.98


@dataclass(frozen=True)
class Agreement:
    matched: int
    reference: int  # detections of the FP32 model
    candidate: int  # detections of the backend under test
    frames: int

    @property
    def precision(self) -> float:
        return self.matched / self.candidate if self.candidate else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.reference if self.reference else 1.0

    @property
    def f1(self) -> float:
        total = self.reference + self.candidate
        return 2 * self.matched / total if total else 1.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "f1": round(self.f1, 4),
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "matched": self.matched,
            "reference": self.reference,
            "candidate": self.candidate,
            "frames": self.frames,
        }


def iou(a: Detection, b: Detection) -> float:
    w = min(a.box.x2, b.box.x2) - max(a.box.x1, b.box.x1)
    h = min(a.box.y2, b.box.y2) - max(a.box.y1, b.box.y1)
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    area_a = (a.box.x2 - a.box.x1) * (a.box.y2 - a.box.y1)
    area_b = (b.box.x2 - b.box.x1) * (b.box.y2 - b.box.y1)
    return inter / (area_a + area_b - inter)


def match_frame(reference: Sequence[Detection], candidate: Sequence[Detection]) -> int:
    """Matched pairs in one frame: each reference box, by decreasing confidence, takes the unused
    candidate box of its class with the highest IoU, if that IoU is at least ``IOU_MATCH``."""
    used: set[int] = set()
    matched = 0
    for ref in sorted(reference, key=lambda d: -d.confidence):
        best, best_iou = -1, IOU_MATCH
        for j, cand in enumerate(candidate):
            if j in used or cand.class_id != ref.class_id:
                continue
            overlap = iou(ref, cand)
            if overlap >= best_iou:
                best, best_iou = j, overlap
        if best >= 0:
            used.add(best)
            matched += 1
    return matched


def agreement(
    pairs: Iterable[tuple[Sequence[Detection], Sequence[Detection]]],
) -> Agreement:
    """``pairs``: (reference detections, candidate detections) per frame."""
    matched = reference = candidate = frames = 0
    for ref, cand in pairs:
        matched += match_frame(ref, cand)
        reference += len(ref)
        candidate += len(cand)
        frames += 1
    return Agreement(matched=matched, reference=reference, candidate=candidate, frames=frames)
