"""STOW-RS (PS3.18 10.5): validate each part of a ``multipart/related; type="application/dicom"``
body, store it through ``PacsStore.put_instance`` and answer with the Store Instances Response
(Referenced SOP Sequence, Failed SOP Sequence with a FailureReason per instance).

One bad part never costs the others: each part is judged and stored on its own.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from io import BytesIO

from pydicom import dcmread
from pydicom.errors import InvalidDicomError

from pacs_api.dicom_files import parse_dicom
from pacs_api.dicomjson import JsonDataset, element, summarize
from pacs_api.errors import InstanceConflict, NotDicom, PacsError
from pacs_api.index import InstanceIndex
from pacs_api.multipart import Part
from pacs_api.store import PacsStore
from pipeline_common.observability import logger

# FailureReason (0008,1197) values, PS3.4 Annex B and PS3.7 C.
PROCESSING_FAILURE = 0x0110
DUPLICATE_SOP_INSTANCE = 0x0111  # a different instance is stored under this SOP Instance UID
OUT_OF_RESOURCES = 0xA700  # the part is larger than the per-part limit
DATASET_DOES_NOT_MATCH = 0xA900  # the instance belongs to another study than the request's
CANNOT_UNDERSTAND = 0xC000  # not DICOM, or required UIDs missing or malformed

FAILURE_TEXT = {
    PROCESSING_FAILURE: "processing failure (the store was unavailable)",
    DUPLICATE_SOP_INSTANCE: "a different instance is already stored under this SOP Instance UID",
    OUT_OF_RESOURCES: "the instance is larger than the per-instance limit",
    DATASET_DOES_NOT_MATCH: "the instance does not belong to the study named in the request",
    CANNOT_UNDERSTAND: "not a DICOM PS3.10 file, or a required UID is missing or malformed",
}

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
# Parts stored at once by one request: a worker's STOW carries two (its SEG and its Secondary
# Capture); a bulk import's many parts share the process's S3 connection pool (10 by default).
_PART_CONCURRENCY = 4
_REQUIRED_UIDS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")


@dataclass(frozen=True)
class Stored:
    sop_class_uid: str
    sop_instance_uid: str
    study_uid: str
    series_uid: str
    status: str  # "stored" or "identical" (already present, byte for byte)


@dataclass(frozen=True)
class Failed:
    sop_class_uid: str | None
    sop_instance_uid: str | None
    reason: int
    detail: str


@dataclass
class StowResult:
    stored: list[Stored] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)

    @property
    def status_code(self) -> int:
        if not self.failed:
            return 200
        return 202 if self.stored else 409

    def response(self, base_url: str, study: str | None) -> JsonDataset:
        body: JsonDataset = {}
        if study is not None:
            body["00081190"] = element("UR", [f"{base_url}/studies/{study}"])
        if self.failed:
            body["00081198"] = element(
                "SQ",
                [
                    {
                        "00081150": element("UI", _maybe(f.sop_class_uid)),
                        "00081155": element("UI", _maybe(f.sop_instance_uid)),
                        "00081197": element("US", [f.reason]),
                    }
                    for f in self.failed
                ],
            )
        if self.stored:
            body["00081199"] = element(
                "SQ",
                [
                    {
                        "00081150": element("UI", [s.sop_class_uid]),
                        "00081155": element("UI", [s.sop_instance_uid]),
                        "00081190": element(
                            "UR",
                            [
                                f"{base_url}/studies/{s.study_uid}/series/{s.series_uid}"
                                f"/instances/{s.sop_instance_uid}"
                            ],
                        ),
                    }
                    for s in self.stored
                ],
            )
        return body


def _maybe(value: str | None) -> list[str]:
    return [value] if value else []


def store_parts(
    parts: list[Part],
    *,
    store: PacsStore,
    index: InstanceIndex,
    study: str | None,
    max_part_bytes: int,
) -> StowResult:
    """Each part judged and stored on its own, up to ``_PART_CONCURRENCY`` at a time (a part's
    S3 writes are sequential; those of different parts are independent), answered in order."""

    def store_one(part: Part) -> Stored | Failed:
        return _store_part(part, store=store, index=index, study=study, limit=max_part_bytes)

    if len(parts) == 1:
        outcomes = [store_one(parts[0])]
    else:
        with ThreadPoolExecutor(max_workers=min(len(parts), _PART_CONCURRENCY)) as pool:
            outcomes = list(pool.map(store_one, parts))
    result = StowResult()
    for number, outcome in enumerate(outcomes, start=1):
        if isinstance(outcome, Stored):
            result.stored.append(outcome)
        else:
            result.failed.append(outcome)
            logger.warning(
                "STOW part refused",
                extra={
                    "part": number,
                    "sop_instance_uid": outcome.sop_instance_uid,
                    "failure_reason": f"0x{outcome.reason:04X}",
                    "detail": outcome.detail,
                },
            )
    return result


def _store_part(
    part: Part, *, store: PacsStore, index: InstanceIndex, study: str | None, limit: int
) -> Stored | Failed:
    part_type = part.content_type.split(";", 1)[0].strip().lower()
    if part_type not in ("", "application/dicom"):
        return Failed(
            None, None, CANNOT_UNDERSTAND, f"part type {part_type} is not application/dicom"
        )
    if len(part.body) > limit:
        sop_class, sop = _header_uids(part.body)
        return Failed(
            sop_class, sop, OUT_OF_RESOURCES, f"{len(part.body)} bytes; the limit is {limit}"
        )
    try:
        ds = parse_dicom(part.body, "in the request")
    except NotDicom as exc:
        return Failed(None, None, CANNOT_UNDERSTAND, exc.message)
    uids = {name: str(ds.get(name, "") or "").strip() for name in _REQUIRED_UIDS}
    sop_class, sop = uids["SOPClassUID"] or None, uids["SOPInstanceUID"] or None
    for name, value in uids.items():
        if not value or len(value) > 64 or not _UID.fullmatch(value):
            return Failed(sop_class, sop, CANNOT_UNDERSTAND, f"{name} is missing or malformed")
    meta = getattr(ds, "file_meta", None)
    if meta is None or not meta.get("TransferSyntaxUID"):
        return Failed(sop_class, sop, CANNOT_UNDERSTAND, "no Transfer Syntax UID in the file meta")
    if study is not None and uids["StudyInstanceUID"] != study:
        return Failed(
            sop_class,
            sop,
            DATASET_DOES_NOT_MATCH,
            f"the instance belongs to study {uids['StudyInstanceUID']}",
        )
    ids = (uids["StudyInstanceUID"], uids["SeriesInstanceUID"], uids["SOPInstanceUID"])
    summary = summarize(ds, part.body)
    try:
        status = store.put_instance(*ids, part.body, summary=summary)
    except InstanceConflict as exc:
        return Failed(sop_class, sop, DUPLICATE_SOP_INSTANCE, exc.message)
    except PacsError as exc:
        return Failed(sop_class, sop, PROCESSING_FAILURE, exc.message)
    index.remember(ids, summary)
    return Stored(uids["SOPClassUID"], uids["SOPInstanceUID"], ids[0], ids[1], status)


def _header_uids(data: bytes) -> tuple[str | None, str | None]:
    """SOP Class and Instance UIDs from the start of an oversized part, when they can be read."""
    try:
        ds = dcmread(
            BytesIO(data), stop_before_pixels=True, specific_tags=["SOPClassUID", "SOPInstanceUID"]
        )
    except (InvalidDicomError, EOFError, OSError, ValueError, KeyError, TypeError):
        return None, None
    return (str(ds.get("SOPClassUID", "")) or None, str(ds.get("SOPInstanceUID", "")) or None)
