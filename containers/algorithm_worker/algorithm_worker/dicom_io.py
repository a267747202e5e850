"""DICOM bytes to 2-D slices of modality values, with every failure turned into a clear reason."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut

from algorithm_worker.errors import NotDicom, UnreadablePixels
from pipeline_common import dicom

_COLOUR = {"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT"}


@dataclass(frozen=True)
class Slice:
    """One frame of one instance: modality values (e.g. Hounsfield units for CT) in float32."""

    instance_id: str
    instance_number: int | None
    frame: int
    values: np.ndarray
    window: tuple[float, float] | None  # the file's first VOI window (centre, width)
    pixel_spacing_mm: tuple[float, float] | None
    inverted: bool  # MONOCHROME1: low values are displayed bright

    @property
    def sort_key(self) -> tuple[float, str, int]:
        number = self.instance_number if self.instance_number is not None else float("inf")
        return (number, self.instance_id, self.frame)


def decode_instance(data: bytes, instance_id: str) -> list[Slice]:
    ds = dicom.parse_dicom(data, instance_id, NotDicom)
    if "PixelData" not in ds:
        raise UnreadablePixels(f"instance {instance_id} has no pixel data")
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    try:
        pixels = ds.pixel_array
    except (NotImplementedError, RuntimeError) as exc:
        # pydicom says "... all plugins are missing dependencies" when no codec is installed.
        if isinstance(exc, NotImplementedError) or "missing dependencies" in str(exc):
            raise UnreadablePixels(
                f"instance {instance_id} uses transfer syntax "
                f"{ds.file_meta.TransferSyntaxUID.name}, for which no decoder is installed"
            ) from exc
        raise UnreadablePixels(
            f"instance {instance_id} pixel data cannot be decoded: {_short(exc)}"
        ) from exc
    except (ValueError, AttributeError, TypeError, KeyError) as exc:
        raise UnreadablePixels(
            f"instance {instance_id} pixel data cannot be decoded: {_short(exc)}"
        ) from exc
    frame_count = int(ds.get("NumberOfFrames") or 1)
    frames = list(pixels) if frame_count > 1 else [pixels]
    number = _integer(ds.get("InstanceNumber"))
    window = _window(ds)
    spacing = _spacing(ds)
    slices = []
    for index, frame in enumerate(frames):
        if photometric in _COLOUR:
            values = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
            frame_window = None
        elif photometric.startswith("MONOCHROME"):
            values = apply_modality_lut(frame, ds)
            frame_window = window
        else:
            raise UnreadablePixels(
                f"instance {instance_id}: photometric interpretation {photometric} is not supported"
            )
        slices.append(
            Slice(
                instance_id=instance_id,
                instance_number=number,
                frame=index,
                values=np.asarray(values, dtype=np.float32),
                window=frame_window,
                pixel_spacing_mm=spacing,
                inverted=photometric == "MONOCHROME1",
            )
        )
    return slices


def _window(ds: Dataset) -> tuple[float, float] | None:
    centres, widths = dicom.numbers(ds.get("WindowCenter")), dicom.numbers(ds.get("WindowWidth"))
    if centres and widths and widths[0] >= 1:
        return centres[0], widths[0]
    return None


def _spacing(ds: Dataset) -> tuple[float, float] | None:
    spacing = dicom.numbers(ds.get("PixelSpacing"))
    return (spacing[0], spacing[1]) if len(spacing) == 2 and min(spacing) > 0 else None


def _integer(value: object) -> int | None:
    try:
        return int(value) if value not in (None, "") else None  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def _short(exc: Exception) -> str:
    # pydicom's messages append long advice after " - "; the reason keeps the first sentence.
    return str(exc).split(" - ")[0][:200] or type(exc).__name__
