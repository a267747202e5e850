"""QIDO-RS (PS3.18 10.6): query parameters, attribute matching (PS3.4 C.2.2.2) and the study,
series and instance results built from the index.

Matching: single value (case-sensitive; PN case-insensitive), wildcards ``*`` and ``?`` (not for
UI, DA, TM, DT), UID lists (``a,b`` or ``a\\b``) and lists of code strings, DA/TM/DT ranges
(``20200101-20201231``, ``-2020``, ``2020-``), an empty value matches everything. Any top-level
attribute of the index can be matched, by keyword or by tag (``00080020``); at study and series
level an entity matches when one of its instances matches every key. ``ModalitiesInStudy`` and
``SOPClassesInStudy`` match any of the study's values.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword

from pacs_api.dicomjson import (
    JsonDataset,
    element,
    first_value,
    is_patient_attribute,
    tag_hex,
    text_values,
    without_patient_attributes,
)
from pacs_api.errors import InvalidQuery, PatientAccessRequired
from pacs_api.index import IndexedInstance

RESERVED = {"limit", "offset", "includefield", "fuzzymatching", "accept", "charset"}
MAX_LIMIT = 10_000

STUDY_UID = tag_hex("StudyInstanceUID")
SERIES_UID = tag_hex("SeriesInstanceUID")
SOP_UID = tag_hex("SOPInstanceUID")
MODALITY = tag_hex("Modality")
SOP_CLASS = tag_hex("SOPClassUID")
MODALITIES_IN_STUDY = tag_hex("ModalitiesInStudy")
SOP_CLASSES_IN_STUDY = tag_hex("SOPClassesInStudy")
RETRIEVE_URL = tag_hex("RetrieveURL")

STUDY_RETURN = [
    tag_hex(k)
    for k in (
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "ReferringPhysicianName",
        "TimezoneOffsetFromUTC",
        "PatientName",
        "PatientID",
        "IssuerOfPatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyInstanceUID",
        "StudyID",
        "StudyDescription",
    )
]
SERIES_RETURN = [
    tag_hex(k)
    for k in (
        "Modality",
        "SeriesDescription",
        "SeriesNumber",
        "SeriesInstanceUID",
        "SeriesDate",
        "SeriesTime",
        "BodyPartExamined",
        "PerformedProcedureStepStartDate",
        "PerformedProcedureStepStartTime",
        "TimezoneOffsetFromUTC",
    )
]
INSTANCE_RETURN = [
    tag_hex(k)
    for k in (
        "SOPClassUID",
        "SOPInstanceUID",
        "InstanceNumber",
        "Rows",
        "Columns",
        "BitsAllocated",
        "NumberOfFrames",
        "ContentDate",
        "ContentTime",
        "TimezoneOffsetFromUTC",
    )
]
_COMPUTED = {
    MODALITIES_IN_STUDY,
    SOP_CLASSES_IN_STUDY,
    tag_hex("NumberOfStudyRelatedSeries"),
    tag_hex("NumberOfStudyRelatedInstances"),
    tag_hex("NumberOfSeriesRelatedInstances"),
    tag_hex("InstanceAvailability"),
    tag_hex("AvailableTransferSyntaxUID"),
    RETRIEVE_URL,
}
_ANY_OF = {MODALITIES_IN_STUDY: MODALITY, SOP_CLASSES_IN_STUDY: SOP_CLASS}
_LIST_VRS = {"UI", "CS"}
_RANGE_VRS = {"DA", "TM", "DT"}


@dataclass(frozen=True)
class Match:
    tag: str
    vr: str
    value: str

    def matches(self, values: list[str]) -> bool:
        if self.value in ("", "*"):
            return True
        if self.vr in _RANGE_VRS and "-" in self.value:
            low, _, high = self.value.partition("-")
            return any(_in_range(v, low, high) for v in values)
        if self.vr in _LIST_VRS:
            wanted = [w for w in re.split(r"[,\\]", self.value) if w]
            if self.vr == "UI":
                return any(v in wanted for v in values)
            return any(fnmatch.fnmatchcase(v, w) for v in values for w in wanted)
        if self.vr == "PN":
            return any(fnmatch.fnmatchcase(v.lower(), self.value.lower()) for v in values)
        if self.vr in _RANGE_VRS:
            return any(v == self.value for v in values)
        return any(fnmatch.fnmatchcase(v, self.value) for v in values)


@dataclass(frozen=True)
class Query:
    matches: list[Match]
    include: set[str]
    include_all: bool
    limit: int | None
    offset: int
    extra: dict[str, list[str]] = field(default_factory=dict)

    def instance_matches(self) -> list[Match]:
        return [m for m in self.matches if m.tag not in _COMPUTED]


def named_instances(query: Query) -> list[str] | None:
    """The SOP Instance UIDs an instance search is limited to by a ``SOPInstanceUID`` key (one
    UID or a list); None when no such key limits it. Every result is one of them, so searching
    those instances alone answers the same as searching their whole series."""
    for match in query.matches:
        if match.tag == SOP_UID and match.value not in ("", "*"):
            uids = list(dict.fromkeys(u for u in re.split(r"[,\\]", match.value) if u))
            return uids or None
    return None


def _in_range(value: str, low: str, high: str) -> bool:
    # DICOM dates and times compare as text once cut to the bound's precision.
    value = value.replace(":", "")
    low, high = low.replace(":", ""), high.replace(":", "")
    if low and value[: len(low)] < low:
        return False
    return not (high and value[: len(high)] > high)


def resolve_attribute(name: str) -> tuple[str, str]:
    """``(tag, VR)`` of a query key given as a keyword or as eight hex digits."""
    if re.fullmatch(r"[0-9A-Fa-f]{8}", name):
        tag = int(name, 16)
    else:
        found = tag_for_keyword(name)
        if found is None:
            raise InvalidQuery(f"unknown attribute {name!r} (nested attributes are not supported)")
        tag = found
    try:
        vr = dictionary_VR(tag)
    except KeyError:
        vr = "UN"  # a private or unknown tag: matched as text
    return f"{tag:08X}", vr.split(" or ")[0]


def parse_query(params: Iterable[tuple[str, str]], *, patient_access: bool) -> Query:
    matches: list[Match] = []
    include: set[str] = set()
    include_all = False
    limit: int | None = None
    offset = 0
    for name, value in params:
        if name == "includefield":
            for item in value.split(","):
                item = item.strip()
                if item == "all":
                    include_all = True
                elif item:
                    include.add(resolve_attribute(item)[0])
        elif name == "limit":
            limit = _non_negative(name, value)
            limit = min(limit, MAX_LIMIT)
        elif name == "offset":
            offset = _non_negative(name, value)
        elif name in RESERVED:
            continue  # fuzzymatching is not offered: matching is always exact (PS3.18 allows it)
        else:
            tag, vr = resolve_attribute(name)
            if not patient_access and is_patient_attribute(tag, vr):
                raise PatientAccessRequired(
                    f"matching on {keyword_for_tag(int(tag, 16)) or tag} needs patient access"
                )
            matches.append(Match(tag, vr, value))
    return Query(matches, include, include_all, limit, offset)


def _non_negative(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError as exc:
        raise InvalidQuery(f"{name} must be a non-negative integer") from exc
    if number < 0:
        raise InvalidQuery(f"{name} must be a non-negative integer")
    return number


def _instance_ok(instance: IndexedInstance, matches: list[Match]) -> bool:
    dataset = _with_key_uids(instance)
    return all(m.matches(text_values(dataset, m.tag)) for m in matches)


def _with_key_uids(instance: IndexedInstance) -> JsonDataset:
    # The key's ids are what the store serves under: they win over the file's own values.
    dataset = dict(instance.dataset)
    dataset[STUDY_UID] = element("UI", [instance.study_id])
    dataset[SERIES_UID] = element("UI", [instance.series_id])
    dataset[SOP_UID] = element("UI", [instance.instance_id])
    return dataset


def _pick(dataset: JsonDataset, tags: Iterable[str]) -> JsonDataset:
    out: JsonDataset = {}
    for tag in tags:
        if tag in dataset:
            out[tag] = dataset[tag]
        elif tag not in _COMPUTED:
            out[tag] = {"vr": _vr(tag)}  # required return keys are present, empty when unknown
    return out


def _vr(tag: str) -> str:
    try:
        return str(dictionary_VR(int(tag, 16))).split(" or ")[0]
    except KeyError:
        return "UN"


def _sort_values(values: set[str]) -> list[str]:
    return sorted(v for v in values if v)


@dataclass
class _Group:
    key: tuple[str, ...]
    members: list[IndexedInstance]


def _groups(instances: list[IndexedInstance], depth: int) -> list[_Group]:
    grouped: dict[tuple[str, ...], list[IndexedInstance]] = {}
    for instance in instances:
        key = (instance.study_id, instance.series_id, instance.instance_id)[:depth]
        grouped.setdefault(key, []).append(instance)
    return [_Group(key, members) for key, members in grouped.items()]


def _representative(members: list[IndexedInstance]) -> IndexedInstance:
    readable = [m for m in members if m.readable]
    return (readable or members)[0]


def _study_result(group: _Group, base_url: str, query: Query) -> JsonDataset:
    first = _with_key_uids(_representative(group.members))
    tags = list(STUDY_RETURN)
    result = _pick(first, tags + _includes(first, query))
    modalities = {v for m in group.members for v in text_values(m.dataset, MODALITY)}
    classes = {v for m in group.members for v in text_values(m.dataset, SOP_CLASS)}
    result[MODALITIES_IN_STUDY] = element("CS", _sort_values(modalities))
    result[SOP_CLASSES_IN_STUDY] = element("UI", _sort_values(classes))
    series = {m.series_id for m in group.members}
    result[tag_hex("NumberOfStudyRelatedSeries")] = element("IS", [len(series)])
    result[tag_hex("NumberOfStudyRelatedInstances")] = element("IS", [len(group.members)])
    result[tag_hex("InstanceAvailability")] = element("CS", ["ONLINE"])
    result[RETRIEVE_URL] = element("UR", [f"{base_url}/studies/{group.key[0]}"])
    return result


def _series_result(group: _Group, base_url: str, query: Query, flat: bool) -> JsonDataset:
    first = _with_key_uids(_representative(group.members))
    tags = [STUDY_UID] + SERIES_RETURN + (STUDY_RETURN if flat else [])
    result = _pick(first, tags + _includes(first, query))
    result[tag_hex("NumberOfSeriesRelatedInstances")] = element("IS", [len(group.members)])
    result[tag_hex("InstanceAvailability")] = element("CS", ["ONLINE"])
    study, series = group.key
    result[RETRIEVE_URL] = element("UR", [f"{base_url}/studies/{study}/series/{series}"])
    return result


def _instance_result(
    instance: IndexedInstance, base_url: str, query: Query, flat: bool
) -> JsonDataset:
    dataset = _with_key_uids(instance)
    tags = (
        [STUDY_UID, SERIES_UID] + INSTANCE_RETURN + (SERIES_RETURN + STUDY_RETURN if flat else [])
    )
    result = _pick(dataset, tags + _includes(dataset, query))
    result[tag_hex("InstanceAvailability")] = element("CS", ["ONLINE"])
    syntax = instance.summary.get("transfer_syntax_uid")
    if syntax:
        result[tag_hex("AvailableTransferSyntaxUID")] = element("UI", [syntax])
    result[RETRIEVE_URL] = element(
        "UR",
        [
            f"{base_url}/studies/{instance.study_id}/series/{instance.series_id}"
            f"/instances/{instance.instance_id}"
        ],
    )
    return result


def _includes(dataset: JsonDataset, query: Query) -> list[str]:
    return sorted(dataset) if query.include_all else sorted(query.include)


def _page(results: list[JsonDataset], query: Query) -> list[JsonDataset]:
    end = None if query.limit is None else query.offset + query.limit
    return results[query.offset : end]


def _finish(results: list[JsonDataset], query: Query, patient_access: bool) -> list[JsonDataset]:
    page = _page(results, query)
    ordered = [dict(sorted(r.items())) for r in page]
    return ordered if patient_access else [without_patient_attributes(r) for r in ordered]


def _computed_ok(group: _Group, query: Query) -> bool:
    for m in query.matches:
        source = _ANY_OF.get(m.tag)
        if source is not None:
            values = {v for member in group.members for v in text_values(member.dataset, source)}
            if not m.matches(sorted(values)):
                return False
    return True


def search_studies(
    instances: list[IndexedInstance], query: Query, *, base_url: str, patient_access: bool
) -> list[JsonDataset]:
    wanted = query.instance_matches()
    groups = [
        g
        for g in _groups(instances, 1)
        if _computed_ok(g, query) and any(_instance_ok(m, wanted) for m in g.members)
    ]
    results = [_study_result(g, base_url, query) for g in groups]
    # Newest first, as worklists and viewers list them; the UID keeps the order total.
    results.sort(key=lambda r: _date_key(r, "StudyDate", "StudyTime", STUDY_UID), reverse=True)
    return _finish(results, query, patient_access)


def search_series(
    instances: list[IndexedInstance],
    query: Query,
    *,
    base_url: str,
    patient_access: bool,
    flat: bool,
) -> list[JsonDataset]:
    wanted = query.instance_matches()
    groups = [
        g
        for g in _groups(instances, 2)
        if _computed_ok(g, query) and any(_instance_ok(m, wanted) for m in g.members)
    ]
    results = [_series_result(g, base_url, query, flat) for g in groups]
    results.sort(
        key=lambda r: (
            r[STUDY_UID]["Value"][0],
            _number(r, "SeriesNumber"),
            r[SERIES_UID]["Value"][0],
        )
    )
    return _finish(results, query, patient_access)


def search_instances(
    instances: list[IndexedInstance],
    query: Query,
    *,
    base_url: str,
    patient_access: bool,
    flat: bool,
) -> list[JsonDataset]:
    wanted = query.instance_matches()
    chosen = [i for i in instances if _instance_ok(i, wanted)]
    results = [_instance_result(i, base_url, query, flat) for i in chosen]
    results.sort(
        key=lambda r: (
            r[STUDY_UID]["Value"][0],
            r[SERIES_UID]["Value"][0],
            _number(r, "InstanceNumber"),
            r[SOP_UID]["Value"][0],
        )
    )
    return _finish(results, query, patient_access)


def _number(result: JsonDataset, keyword: str) -> float:
    value: Any = first_value(result, tag_hex(keyword))
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("inf")


def _date_key(result: JsonDataset, date: str, time: str, uid: str) -> tuple[str, str, str]:
    return (
        str(first_value(result, tag_hex(date)) or ""),
        str(first_value(result, tag_hex(time)) or ""),
        str(first_value(result, uid) or ""),
    )
