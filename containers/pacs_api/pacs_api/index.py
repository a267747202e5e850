"""The QIDO-RS index: one summary per instance (``<SOPInstanceUID>.json`` beside the file), read
through an in-process cache. Stored instances never change (the store refuses to overwrite a
different object), so a summary once read stays true for as long as its instance is listed.

A ``.dcm`` without a summary (put there before the index existed, or by hand) is summarized from
its bytes on first sight and the summary written back, so it is read once, not on every search.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pacs_api.dicom_files import parse_dicom
from pacs_api.dicomjson import summarize, unreadable_summary
from pacs_api.errors import NotDicom, NotFound, ObjectTooLarge, PacsError
from pacs_api.store import PacsStore, StoredObject
from pipeline_common.observability import logger

_CACHE_ENTRIES = 100_000
_READ_CONCURRENCY = 16


@dataclass(frozen=True)
class IndexedInstance:
    study_id: str
    series_id: str
    instance_id: str
    summary: dict[str, Any]

    @property
    def dataset(self) -> dict[str, Any]:
        dataset: dict[str, Any] = self.summary.get("dataset") or {}
        return dataset

    @property
    def readable(self) -> bool:
        return bool(self.summary.get("readable"))


class InstanceIndex:
    def __init__(self, store: PacsStore, *, max_object_bytes: int) -> None:
        self.store = store
        self.max_object_bytes = max_object_bytes
        self._cache: OrderedDict[tuple[str, str, str], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def instances(
        self, study_id: str | None = None, series_id: str | None = None
    ) -> list[IndexedInstance]:
        objects = self.store.instance_objects(study_id, series_id)
        with ThreadPoolExecutor(max_workers=_READ_CONCURRENCY) as pool:
            summaries = list(pool.map(self._summary, objects))
        return [
            IndexedInstance(o.study_id, o.series_id, o.instance_id, s)
            for o, s in zip(objects, summaries, strict=True)
        ]

    def named(
        self, study_id: str, series_id: str, instance_ids: list[str]
    ) -> list[IndexedInstance]:
        """The instances of one series named by their SOP Instance UIDs, each found by its key
        (no listing of the series); those not stored are left out."""
        found = (self.store.instance_object(study_id, series_id, i) for i in instance_ids)
        return [
            IndexedInstance(o.study_id, o.series_id, o.instance_id, self._summary(o))
            for o in found
            if o is not None
        ]

    def remember(self, ids: tuple[str, str, str], summary: dict[str, Any]) -> None:
        with self._lock:
            self._cache[ids] = summary
            self._cache.move_to_end(ids)
            while len(self._cache) > _CACHE_ENTRIES:
                self._cache.popitem(last=False)

    def _summary(self, obj: StoredObject) -> dict[str, Any]:
        ids = (obj.study_id, obj.series_id, obj.instance_id)
        with self._lock:
            cached = self._cache.get(ids)
        if cached is not None:
            return cached
        summary = self.store.read_summary(*ids) if obj.has_summary else None
        if summary is None:
            summary = self._rebuild(obj)
        self.remember(ids, summary)
        return summary

    def _rebuild(self, obj: StoredObject) -> dict[str, Any]:
        ids = (obj.study_id, obj.series_id, obj.instance_id)
        try:
            data = self.store.read_instance(*ids, max_bytes=self.max_object_bytes)
        except (ObjectTooLarge, NotFound) as exc:
            return unreadable_summary(b"", exc.message)
        try:
            summary = summarize(parse_dicom(data, obj.instance_id), data)
        except NotDicom as exc:
            summary = unreadable_summary(data, exc.message)
        try:
            self.store.write_summary(*ids, summary)
        except PacsError:
            logger.warning("index summary not written back", extra={"instance": obj.instance_id})
        return summary
