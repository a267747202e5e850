"""Pixel data out of a stored instance: rendered PNG/JPEG with DICOM linear windowing
(PS3.3 C.11.2.1.2) and WADO-RS frames. Decoding goes through pydicom's plugins: its own (native,
deflate, RLE), the pylibjpeg family (libjpeg, openjpeg, RLE), pyjpegls and GDCM."""

from __future__ import annotations

import cv2
import numpy as np
from pydicom.dataset import FileDataset
from pydicom.encaps import get_frame
from pydicom.pixels import apply_color_lut, apply_modality_lut, pack_bits, pixel_array

from pacs_api.dicom_files import first_number
from pacs_api.errors import InvalidQuery, PacsError, UnreadablePixels

_COLOUR = {"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420"}
PNG, JPEG = "image/png", "image/jpeg"


def window_to_uint8(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """Map modality values to 0..255 with the DICOM linear VOI function."""
    if width < 1:
        raise InvalidQuery("window_width must be at least 1")
    values = values.astype(np.float64, copy=False)
    if width == 1:
        return np.where(values < center - 0.5, 0, 255).astype(np.uint8)
    scaled = ((values - (center - 0.5)) / (width - 1) + 0.5) * 255.0
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def frame_count(ds: FileDataset) -> int:
    try:
        return max(int(ds.get("NumberOfFrames") or 1), 1)
    except (TypeError, ValueError):
        return 1


def transfer_syntax(ds: FileDataset) -> str:
    meta = getattr(ds, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    return f"{uid.name} ({uid})" if uid else "an unknown transfer syntax"


def _decode(ds: FileDataset, frame: int, instance_id: str, *, raw: bool) -> np.ndarray:
    """One frame (0-based) as decoded by pydicom; ``raw`` keeps the stored colour space."""
    if "PixelData" not in ds:
        raise UnreadablePixels(f"instance {instance_id} has no pixel data")
    frames = frame_count(ds)
    if frame >= frames:
        raise InvalidQuery(f"frame {frame + 1} does not exist (the instance has {frames})")
    try:
        return pixel_array(ds, index=frame if frames > 1 else None, raw=raw)
    except PacsError:
        raise
    except Exception as exc:  # decoders raise anything from ValueError to RuntimeError
        raise UnreadablePixels(
            f"instance {instance_id} ({transfer_syntax(ds)}) pixel data cannot be decoded: "
            f"{_short(exc)}"
        ) from exc


def frame_pixels(ds: FileDataset, frame: int, instance_id: str) -> np.ndarray:
    return _decode(ds, frame, instance_id, raw=False)


def render(
    ds: FileDataset,
    instance_id: str,
    *,
    window_center: float | None,
    window_width: float | None,
    frame: int = 0,
    media_type: str = PNG,
    quality: int = 90,
) -> bytes:
    pixels = frame_pixels(ds, frame, instance_id)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip()
    if photometric == "PALETTE COLOR":
        image = cv2.cvtColor(_to_uint8_range(apply_color_lut(pixels, ds), ds), cv2.COLOR_RGB2BGR)
    elif photometric in _COLOUR:
        image = cv2.cvtColor(_to_uint8_range(pixels, ds), cv2.COLOR_RGB2BGR)
    elif photometric.startswith("MONOCHROME"):
        values = apply_modality_lut(pixels, ds).astype(np.float64)
        center = (
            window_center if window_center is not None else first_number(ds.get("WindowCenter"))
        )
        width = window_width if window_width is not None else first_number(ds.get("WindowWidth"))
        if width is not None and width < 1:
            width = None  # a file's own invalid window falls back to the data range
        if center is None or width is None:
            low, high = float(values.min()), float(values.max())
            center = center if center is not None else (low + high) / 2
            width = width if width is not None else max(high - low + 1, 1.0)
        image = window_to_uint8(values, center, width)
        if photometric == "MONOCHROME1":
            image = 255 - image
    else:
        raise UnreadablePixels(f"photometric interpretation {photometric} is not supported")
    if media_type == JPEG:
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    else:
        ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise UnreadablePixels(f"instance {instance_id} could not be encoded as {media_type}")
    return encoded.tobytes()


def render_png(
    ds: FileDataset,
    instance_id: str,
    *,
    window_center: float | None,
    window_width: float | None,
    frame: int = 0,
) -> bytes:
    return render(
        ds, instance_id, window_center=window_center, window_width=window_width, frame=frame
    )


def frame_bytes(ds: FileDataset, frame: int, instance_id: str, *, as_stored: bool) -> bytes:
    """One frame (0-based) for WADO-RS: the stored compressed bitstream when ``as_stored`` and the
    pixel data is encapsulated, else native little-endian pixels in the stored colour space."""
    if "PixelData" not in ds:
        raise UnreadablePixels(f"instance {instance_id} has no pixel data")
    frames = frame_count(ds)
    if frame >= frames:
        raise InvalidQuery(f"frame {frame + 1} does not exist (the instance has {frames})")
    if as_stored and ds.file_meta.TransferSyntaxUID.is_encapsulated:
        try:
            return bytes(get_frame(ds.PixelData, frame, number_of_frames=frames))
        except Exception as exc:
            raise UnreadablePixels(
                f"instance {instance_id}: frame {frame + 1} cannot be read: {_short(exc)}"
            ) from exc
    pixels = _decode(ds, frame, instance_id, raw=True)
    if int(ds.get("BitsAllocated") or 8) == 1:
        return bytes(pack_bits(pixels))
    return np.ascontiguousarray(pixels, dtype=pixels.dtype.newbyteorder("<")).tobytes()


def _to_uint8_range(pixels: np.ndarray, ds: FileDataset) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels
    bits = int(ds.get("BitsStored") or 16)
    high = float(2**bits - 1) if pixels.dtype.kind == "u" else float(pixels.max() or 1)
    if pixels.dtype == np.uint16 and "RedPaletteColorLookupTableDescriptor" in ds:
        high = 65535.0  # palette LUT entries are 16-bit
    return np.clip(pixels.astype(np.float64) * 255.0 / high, 0, 255).astype(np.uint8)


def _short(exc: Exception) -> str:
    return str(exc).split(" - ")[0][:200] or type(exc).__name__
