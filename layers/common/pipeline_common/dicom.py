"""DICOM reading shared by the containers that handle medical images (the PACS API and the
algorithm workers). It needs pydicom, which their images install; Lambda functions never import
it, so the layer does not carry pydicom."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from pydicom import dcmread
from pydicom.dataset import FileDataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue


def parse_dicom(data: bytes, instance_id: str, error: type[Exception]) -> FileDataset:
    """The dataset of one instance's bytes; anything that is not readable DICOM raises ``error``
    (each service's own "not DICOM" error) with a reason a user can act on."""
    if not data:
        raise error(f"instance {instance_id} is empty")
    try:
        # force=False: a file without the 'DICM' preamble is refused rather than guessed at.
        return dcmread(BytesIO(data))
    except InvalidDicomError as exc:
        raise error(f"instance {instance_id} is not a DICOM file") from exc
    except (EOFError, OSError, ValueError, KeyError, TypeError) as exc:
        raise error(
            f"instance {instance_id} has a truncated or corrupt DICOM header ({type(exc).__name__})"
        ) from exc


def numbers(value: Any) -> list[float]:
    """A DICOM number or multi-value (DS/IS) as a list of floats; unparsable items are dropped."""
    if value is None or value == "":
        return []
    items = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
    result = []
    for item in items:
        try:
            result.append(float(item))
        except (TypeError, ValueError):
            continue
    return result
