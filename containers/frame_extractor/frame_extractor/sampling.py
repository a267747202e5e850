"""Which decoded frames to keep: every Nth, or as close as possible to a target rate."""

from __future__ import annotations


class FrameSampler:
    def __init__(
        self, *, every_n: int = 1, target_fps: float | None = None, source_fps: float | None = None
    ) -> None:
        if target_fps is not None and source_fps and target_fps < source_fps:
            self._step = source_fps / target_fps  # keep frame i when it passes the next slot
        else:
            self._step = float(every_n)
        self._next = 0.0

    def keep(self, index: int) -> bool:
        # The epsilon absorbs float error in the accumulated slots (e.g. 30 fps -> 7.5 fps).
        if index + 1e-9 >= self._next:
            self._next += self._step
            return True
        return False
