"""DICOM JSON (PS3.18 F.2): index summaries, WADO-RS metadata with bulk data by URI, and the one
filter that keeps patient-level attributes from callers without patient access.

Patient access is decided per request (``x-pacs-patient-access: allowed``, set by the API gateway
from the caller's group). Without it, every attribute that identifies or describes the patient is
removed, at any depth: the whole Patient group (0010,xxxx), every person name (VR PN), every
private element (odd groups can hold anything), and the named identifying attributes of PS3.15's
basic profile that live outside those (institution, addresses, admission and other ids).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileDataset
from pydicom.tag import BaseTag

JsonDataset = dict[str, Any]

# Binary VRs: never in an index summary; in metadata, large ones become a BulkDataURI.
BULK_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
BULK_THRESHOLD_BYTES = 1024
SUMMARY_VERSION = 1

_PATIENT_GROUP = 0x0010
_IDENTIFYING_KEYWORDS = (
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "InstitutionCodeSequence",
    "PersonAddress",
    "PersonTelephoneNumbers",
    "ReferringPhysicianAddress",
    "ReferringPhysicianTelephoneNumbers",
    "AdmissionID",
    "IssuerOfAdmissionIDSequence",
    "CurrentPatientLocation",
    "PatientInstitutionResidence",
    "RequestAttributesSequence",  # carries the requested procedure and admission ids
    "OtherPatientIDsSequence",
    "MedicalRecordLocator",
    "ServiceEpisodeID",
    "PatientIdentityRemoved",  # meaningless once the patient attributes are gone
)
_IDENTIFYING_TAGS = {f"{tag_for_keyword(k):08X}" for k in _IDENTIFYING_KEYWORDS}


def tag_hex(keyword: str) -> str:
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(keyword)
    return f"{tag:08X}"


def is_patient_attribute(tag: str, vr: str | None) -> bool:
    group = int(tag[:4], 16)
    return (
        group == _PATIENT_GROUP or group % 2 == 1 or vr == "PN" or tag.upper() in _IDENTIFYING_TAGS
    )


def without_patient_attributes(dataset: JsonDataset) -> JsonDataset:
    """A copy of a DICOM JSON dataset with every patient-level attribute removed (recursively)."""
    kept: JsonDataset = {}
    for tag, element in dataset.items():
        vr = element.get("vr") if isinstance(element, dict) else None
        if is_patient_attribute(tag, vr):
            continue
        if vr == "SQ" and "Value" in element:
            element = {
                **element,
                "Value": [without_patient_attributes(i) for i in element["Value"]],
            }
        kept[tag] = element
    return kept


def element(vr: str, values: list[Any]) -> dict[str, Any]:
    return {"vr": vr, "Value": values} if values else {"vr": vr}


def first_value(dataset: JsonDataset, tag: str) -> Any:
    values = dataset.get(tag, {}).get("Value") or [None]
    return values[0]


def text_values(dataset: JsonDataset, tag: str) -> list[str]:
    """The element's values as strings (PN: the alphabetic form), for matching and sorting."""
    out = []
    for value in dataset.get(tag, {}).get("Value") or []:
        if isinstance(value, dict):
            value = value.get("Alphabetic", "")
        out.append("" if value is None else str(value))
    return out


def _element_json(elem: DataElement, bulk: Callable[[DataElement], str] | None) -> Any:
    def handler(e: DataElement) -> str:
        if bulk is None:
            raise ValueError("bulk data not wanted")
        return bulk(e)

    return elem.to_json_dict(
        bulk_data_element_handler=handler if bulk is not None else None,
        bulk_data_threshold=BULK_THRESHOLD_BYTES,
    )


def summarize(ds: FileDataset, data: bytes) -> dict[str, Any]:
    """The index summary of one stored instance: its top-level non-binary, non-sequence elements
    as DICOM JSON (what QIDO-RS matches and returns), plus what the store needs to know."""
    dataset: JsonDataset = {}
    for elem in ds:
        if elem.VR in BULK_VRS or elem.VR == "SQ" or elem.tag.group == 0x0002:
            continue
        try:
            value = _element_json(elem, None)
        except (ValueError, TypeError, AttributeError, OverflowError):
            continue  # not expressible in JSON: not searchable (the file keeps it)
        if len(str(value)) <= 4 * BULK_THRESHOLD_BYTES:
            dataset[f"{elem.tag:08X}"] = value
    meta = getattr(ds, "file_meta", None)
    transfer_syntax = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    return {
        "version": SUMMARY_VERSION,
        "readable": True,
        "reason": None,
        "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "transfer_syntax_uid": transfer_syntax or None,
        "dataset": dataset,
    }


def unreadable_summary(data: bytes, reason: str) -> dict[str, Any]:
    """The summary of an object that is not readable DICOM: found by the listing, nothing else."""
    return {
        "version": SUMMARY_VERSION,
        "readable": False,
        "reason": reason,
        "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "transfer_syntax_uid": None,
        "dataset": {},
    }


def metadata_json(ds: FileDataset, bulk_base_url: str) -> JsonDataset:
    """WADO-RS metadata of one instance: every element, binary values over 1 KiB at the top level
    by BulkDataURI (``<instance>/bulkdata/<tag>``), nested ones inline; file meta excluded."""
    out: JsonDataset = {}
    for elem in ds:
        if elem.tag.group == 0x0002:
            continue
        top_tag = elem.tag

        def bulk(e: DataElement, tag: BaseTag = top_tag) -> str:
            if e.tag != tag:
                raise ValueError("nested bulk data is sent inline")
            return f"{bulk_base_url}/bulkdata/{tag:08X}"

        try:
            if elem.VR == "SQ":
                out[f"{elem.tag:08X}"] = elem.to_json_dict(None, 2**62)
            else:
                out[f"{elem.tag:08X}"] = _element_json(elem, bulk)
        except (ValueError, TypeError, AttributeError, OverflowError):
            continue
    return out


def dataset_from_json(dataset: JsonDataset) -> Dataset:
    return Dataset.from_json(dataset)
