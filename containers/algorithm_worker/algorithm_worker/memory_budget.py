"""The per-job memory budget: a job whose data would not fit in the task's memory is refused
before it is downloaded (FAILED, an input error), instead of being killed for lack of memory
on every attempt.

A job holds its whole series in memory: the stored instances (twice: as downloaded, and parsed
again for the SEG), then per pixel the modality values (float32), the 8-bit display, the mask,
the overlay and the montage (3 bytes each) and the SEG's frames; while one frame is decoded and
windowed, its float64 temporaries come on top. ``estimate_bytes`` adds these up from what
QIDO-RS says of each instance (Rows, Columns, NumberOfFrames, SamplesPerPixel, BitsAllocated):
the same figures the PACS would need to send. The budget is the task's memory less what the
process itself takes (``MEMORY_RESERVED_MIB``): about 190 MiB resident after the imports, and
highdicom's first SEG adds about 100 MiB once (its code tables stay cached).

Measured with tracemalloc (processing_1 on CT_small's pixels scaled up, the downloaded bytes
added, highdicom's one-time cache left out; one run): 3 x 512 x 512 peaked at 17 MiB (estimate
26), 12 x 512 x 512 at 42 MiB (estimate 67), 1 x 1024 x 1024 at 45 MiB (estimate 68). The
estimate is 1.5 to 1.6 times the traced peak: the margin for what tracemalloc does not see
(OpenCV's own buffers, allocator fragmentation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from algorithm_worker.errors import OverMemoryBudget

MIB = 1024 * 1024
#: Bytes held per pixel until the job ends: values 4, display 1, mask 1, overlay 3, montage 3,
#: SEG frame 1, with a byte of slack for the algorithms' own working images.
HELD_PER_PIXEL = 14
#: Bytes per pixel of the one frame being worked on: the modality LUT's and the windowing's
#: float64 temporaries, the overlay's float32 colour temporaries (about 40 measured, with margin).
TRANSIENT_PER_FRAME_PIXEL = 48


@dataclass(frozen=True)
class InstanceSize:
    rows: int
    columns: int
    frames: int = 1
    samples: int = 1
    bits_allocated: int = 16

    @property
    def pixels(self) -> int:
        return self.rows * self.columns * self.frames

    @property
    def pixel_data_bytes(self) -> int:
        return self.pixels * self.samples * math.ceil(self.bits_allocated / 8)


def estimate_bytes(sizes: Sequence[InstanceSize]) -> int:
    """The peak memory a job on these instances needs (beyond the process's own)."""
    if not sizes:
        return 0
    held = sum(2 * s.pixel_data_bytes + HELD_PER_PIXEL * s.pixels for s in sizes)
    transient = max(
        s.pixel_data_bytes + TRANSIENT_PER_FRAME_PIXEL * s.rows * s.columns * s.samples
        for s in sizes
    )
    return held + transient


@dataclass(frozen=True)
class MemoryBudget:
    task_memory_mib: int
    reserved_mib: int
    #: Jobs that run at once in the task (``JOB_CONCURRENCY``): each gets an equal share.
    shares: int = 1

    @property
    def limit_bytes(self) -> int:
        return max(self.task_memory_mib - self.reserved_mib, 0) * MIB // self.shares

    def check(self, sizes: Sequence[InstanceSize], what: str) -> int:
        """The estimate for ``sizes``; raises ``OverMemoryBudget`` when it exceeds the budget."""
        needed = estimate_bytes(sizes)
        if needed > self.limit_bytes:
            pixels = sum(s.pixels for s in sizes)
            raise OverMemoryBudget(
                f"{what} is too large to process: {len(sizes)} instance(s), {pixels:,} pixels "
                f"need about {needed / MIB:,.0f} MiB of memory, over this worker's budget of "
                f"{self.limit_bytes / MIB:,.0f} MiB (task memory {self.task_memory_mib} MiB, "
                f"{self.reserved_mib} MiB reserved"
                + (f", shared by {self.shares} jobs at once)" if self.shares > 1 else ")")
            )
        return needed
