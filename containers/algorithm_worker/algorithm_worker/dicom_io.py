"""DICOM bytes to 2-D slices of modality values, with every failure turned into a clear reason."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, apply_modality_lut

from algorithm_worker.errors import NotDicom, UnreadablePixels
from pipeline_common import dicom

# pydicom hands YBR pixel data over already converted to RGB.
_COLOUR = {"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420"}


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
    """The instance's frames as slices; any failure on its data raises a ``JobInputError``
    (``NotDicom`` or ``UnreadablePixels``) whose message is the reason the job failed."""
    ds = dicom.parse_dicom(data, instance_id, NotDicom)
    try:
        return _decode(ds, instance_id)
    except (NotDicom, UnreadablePixels):
        raise
    except MemoryError as exc:
        raise UnreadablePixels(
            f"instance {instance_id} does not fit in the worker's memory once decoded"
        ) from exc
    except Exception as exc:  # any other decoding failure is this file's, not a transient one
        raise UnreadablePixels(
            f"instance {instance_id} cannot be decoded: {type(exc).__name__}: {_short(exc)}"
        ) from exc


def _decode(ds: Dataset, instance_id: str) -> list[Slice]:
    if "PixelData" not in ds:
        raise UnreadablePixels(f"instance {instance_id} has no pixel data")
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip()
    syntax = _syntax_name(ds)
    try:
        pixels = ds.pixel_array
    except Exception as exc:  # decoder plugins raise anything from ValueError to RuntimeError
        # pydicom says "... all plugins are missing dependencies" when no codec is installed.
        if isinstance(exc, NotImplementedError) or "missing dependencies" in str(exc):
            raise UnreadablePixels(
                f"instance {instance_id} uses transfer syntax {syntax}, "
                "for which no decoder is installed"
            ) from exc
        raise UnreadablePixels(
            f"instance {instance_id} pixel data cannot be decoded ({syntax}): {_short(exc)}"
        ) from exc
    if photometric == "PALETTE COLOR":
        try:
            pixels = apply_color_lut(pixels, ds)
        except Exception as exc:
            raise UnreadablePixels(
                f"instance {instance_id}: its palette colour lookup table is unusable: "
                f"{_short(exc)}"
            ) from exc
        photometric = "RGB"
    frame_count = int(ds.get("NumberOfFrames") or 1)
    frames = list(pixels) if frame_count > 1 else [pixels]
    number = _integer(ds.get("InstanceNumber"))
    window = _window(ds)
    spacing = _spacing(ds)
    slices = []
    for index, frame in enumerate(frames):
        if photometric in _COLOUR:
            values = cv2.cvtColor(_colour_uint8(frame), cv2.COLOR_RGB2GRAY)
            frame_window = None
        elif photometric.startswith("MONOCHROME"):
            values = _modality_values(frame, ds, instance_id)
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


def _modality_values(frame: np.ndarray, ds: Dataset, instance_id: str) -> np.ndarray:
    """The frame in modality units (PS3.3 C.11.1): rescale slope/intercept or a Modality LUT."""
    if "ModalityLUTSequence" not in ds:
        for keyword in ("RescaleSlope", "RescaleIntercept"):
            value = ds[keyword].value if keyword in ds else None
            if value not in (None, "", b"") and not _is_finite_number(value):
                raise UnreadablePixels(
                    f"instance {instance_id} has an invalid {keyword} "
                    f"({str(value)[:16]!r}): not a number"
                )
    try:
        return np.asarray(apply_modality_lut(frame, ds))
    except Exception as exc:
        raise UnreadablePixels(
            f"instance {instance_id}: its modality LUT cannot be applied: {_short(exc)}"
        ) from exc


def _is_finite_number(value: object) -> bool:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    try:
        return bool(np.isfinite(float(value)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _syntax_name(ds: Dataset) -> str:
    meta = getattr(ds, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    return str(uid.name) if uid else "no transfer syntax"


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


def _colour_uint8(frame: np.ndarray) -> np.ndarray:
    # cv2 converts 8- and 16-bit colour only; deeper or signed data is scaled to 8 bits first.
    if frame.dtype in (np.uint8, np.uint16):
        return np.ascontiguousarray(frame)
    high = float(frame.max()) or 1.0
    return np.clip(frame.astype(np.float64) * 255.0 / high, 0, 255).astype(np.uint8)


def _short(exc: Exception) -> str:
    # pydicom's messages append long advice after " - "; the reason keeps the first sentence.
    return str(exc).split(" - ")[0][:200] or type(exc).__name__
