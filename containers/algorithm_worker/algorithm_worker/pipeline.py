"""One job from PACS reference to outputs: fetch, decode, segment, render, upload."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from algorithm_worker import imaging, secondary_capture, segmentation
from algorithm_worker.algorithms import Algorithm
from algorithm_worker.dicom_io import Slice, decode_instance
from algorithm_worker.errors import (
    InstanceNotFound,
    JobInputError,
    NotDicom,
    OverMemoryBudget,
    PacsUnavailable,
    SeriesTooLarge,
    UnprocessableData,
    WrongAlgorithm,
)
from algorithm_worker.memory_budget import MIB, MemoryBudget
from algorithm_worker.pacs_client import ListedInstance, PacsClient
from pipeline_common import dicom
from pipeline_common.contracts.common import S3Location, utc_now
from pipeline_common.contracts.jobs import (
    DicomInstanceRef,
    JobMessage,
    JobOutputs,
    JobResult,
    JobStatus,
)
from pipeline_common.job_endings import failed_result
from pipeline_common.observability import logger

__all__ = ["JobRunner", "failed_result", "output_keys"]

# FailureReason of a STOW-RS store of an instance UID already holding other bytes: for the SEG and
# the Secondary Capture, whose UIDs derive from the job id, that is this job's own from an earlier
# attempt.
_DUPLICATE_SOP_INSTANCE = 0x0111


def output_keys(job_id: str) -> tuple[str, str]:
    return f"jobs/{job_id}/overlay.png", f"jobs/{job_id}/result.json"


@dataclass
class _Stopwatch:
    timings_ms: dict[str, float] = field(default_factory=dict)

    def measure(self, stage: str, work: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        try:
            return work()
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            self.timings_ms[stage] = round(self.timings_ms.get(stage, 0.0) + elapsed, 3)


@dataclass(frozen=True)
class SliceResult:
    image: Slice
    mask: np.ndarray
    components: int


class JobRunner:
    def __init__(
        self,
        *,
        algorithm: Algorithm,
        pacs: PacsClient,
        s3: Any,
        output_bucket: str,
        max_series_instances: int,
        download_concurrency: int,
        budget: MemoryBudget | None = None,
        concurrent_jobs: int = 1,
    ) -> None:
        self.algorithm = algorithm
        self.pacs = pacs
        self.s3 = s3
        self.output_bucket = output_bucket
        self.max_series_instances = max_series_instances
        self.download_concurrency = download_concurrency
        self.budget = budget
        # The PACS fetch started during the claim, and the overlay's upload beside the SEG and
        # its STOW: I/O that overlaps the job's other steps (threads start on first use), for
        # each of the jobs that may run at once.
        self._io = ThreadPoolExecutor(max_workers=4 * concurrent_jobs, thread_name_prefix="job-io")

    def prefetch(self, job: JobMessage) -> Future[list[tuple[str, bytes]]] | None:
        """Start reading ``job``'s input from the PACS now (read-only: nothing is written, so a
        job whose claim then fails has cost a read and nothing else); pass the future to
        ``run``. None when this worker would refuse the job anyway."""
        if job.algo_id != self.algorithm.algo_id:
            return None
        return self._io.submit(self._fetch, job)

    def run(
        self, job: JobMessage, prefetched: Future[list[tuple[str, bytes]]] | None = None
    ) -> JobResult:
        """The DONE result of ``job``; raises ``JobInputError`` when its input cannot succeed.
        ``prefetched``: its input as ``prefetch`` started reading it (its errors raise here)."""
        if job.algo_id != self.algorithm.algo_id:
            raise WrongAlgorithm(
                f"job for {job.algo_id} reached the {self.algorithm.algo_id} worker"
            )
        clock = _Stopwatch()
        started = time.perf_counter()
        blobs = clock.measure(
            "fetch", lambda: prefetched.result() if prefetched is not None else self._fetch(job)
        )
        # Decoding and the algorithm are pure work on the job's data: whatever fails there
        # fails on every attempt, so it is the input's error (FAILED with the reason), not one
        # to retry. Only the PACS and AWS calls around them can be transient.
        slices = clock.measure("decode", lambda: _on_data("decoding", lambda: self._decode(blobs)))
        displays = _on_data("display", lambda: [imaging.display_image(i) for i in slices])
        results = clock.measure(
            "algorithm",
            lambda: _on_data(self.algorithm.algo_id, lambda: self._segment(slices, displays)),
        )
        overlay = clock.measure(
            "render", lambda: _on_data("rendering", lambda: self._render(displays, results))
        )
        overlay_png = _on_data("rendering", lambda: imaging.encode_png(overlay))
        measurements = _on_data("measuring", lambda: self._measurements(results))
        overlay_key, result_key = output_keys(job.job_id)
        # The overlay does not depend on the PACS's answer: it uploads while the SEG is built
        # and stored. result.json (which names the stored SEG) waits for both.
        overlay_upload = self._io.submit(self._put_overlay, overlay_key, overlay_png)
        try:
            seg, capture = clock.measure(
                "seg", lambda: self._store_dicom(job, blobs, results, overlay, measurements, clock)
            )
        except BaseException:
            wait([overlay_upload])  # a retry starts from a clean slate, not beside this upload
            raise
        outputs = JobOutputs(
            overlay=S3Location(bucket=self.output_bucket, key=overlay_key),
            result=S3Location(bucket=self.output_bucket, key=result_key),
            seg=seg,
            overlay_sc=capture,
        )
        clock.timings_ms["total_before_upload"] = round((time.perf_counter() - started) * 1000, 3)
        result = JobResult(
            job_id=job.job_id,
            client_id=job.client_id,
            algo_id=job.algo_id,
            status=JobStatus.DONE,
            pacs=job.pacs,
            outputs=outputs,
            measurements=measurements,
            timings_ms=clock.timings_ms,
            submitted_at=job.submitted_at,
            completed_at=utc_now(),
        )
        document = self._result_document(result, results)
        clock.measure("upload", lambda: self._upload(overlay_upload, result_key, document))
        # result.json cannot time its own upload; the published result (and the table) can.
        clock.timings_ms["total"] = round((time.perf_counter() - started) * 1000, 3)
        return result.model_copy(update={"timings_ms": dict(clock.timings_ms)})

    def _fetch(self, job: JobMessage) -> list[tuple[str, bytes]]:
        ref = job.pacs
        if ref.scope == "image":
            if ref.image_id is None:  # the contract requires it; never trust that silently
                raise JobInputError("a job of scope 'image' must name its image_id")
            ids = [ref.image_id]
            if self.budget is not None:
                # Unknown here (empty listing): the retrieve answers why, below.
                listed = self.pacs.list_instances(ref.study_id, ref.series_id, ref.image_id)
                self._check_budget(listed, f"instance {ref.image_id}")
        else:
            listed = self.pacs.list_instances(ref.study_id, ref.series_id)
            ids = [i.instance_id for i in listed]
            if not ids:
                raise InstanceNotFound(
                    f"series {ref.series_id} of study {ref.study_id} has no instances"
                )
            if len(ids) > self.max_series_instances:
                raise SeriesTooLarge(
                    f"series {ref.series_id} has {len(ids)} instances; "
                    f"the limit is {self.max_series_instances}"
                )
            if self.budget is not None:
                self._check_budget(listed, f"series {ref.series_id}")
        with ThreadPoolExecutor(max_workers=self.download_concurrency) as pool:
            blobs = list(
                pool.map(lambda i: self.pacs.download_instance(ref.study_id, ref.series_id, i), ids)
            )
        return list(zip(ids, blobs, strict=True))

    def _check_budget(self, listed: list[ListedInstance], what: str) -> None:
        if self.budget is None:
            return
        sizes = [i.size for i in listed if i.size is not None]
        needed = self.budget.check(sizes, what)
        logger.info(
            "memory estimate",
            extra={
                "estimate_mib": round(needed / MIB, 1),
                "budget_mib": round(self.budget.limit_bytes / MIB, 1),
                "sized_instances": len(sizes),
                "instances": len(listed),
            },
        )

    @staticmethod
    def _render(displays: list[np.ndarray], results: list[SliceResult]) -> np.ndarray:
        return imaging.montage(
            [imaging.overlay(d, r.mask) for d, r in zip(displays, results, strict=True)]
        )

    def _store_dicom(
        self,
        job: JobMessage,
        blobs: list[tuple[str, bytes]],
        results: list[SliceResult],
        overlay: np.ndarray,
        measurements: dict[str, float | int | str],
        clock: _Stopwatch | None = None,
    ) -> tuple[DicomInstanceRef | None, DicomInstanceRef | None]:
        """The mask as a SEG and the overlay as a Secondary Capture, stored in the source study
        through the PACS's STOW-RS (one request, timed as ``stow`` within ``seg``); for each,
        None (and the reason in the measurements, ``seg_skipped``/``overlay_sc_skipped``) when
        the source cannot carry it. A PACS that is down retries the job."""
        by_id = {instance_id: data for instance_id, data in blobs}
        order = list(dict.fromkeys(r.image.instance_id for r in results))
        sources: list[Dataset] = [
            dicom.parse_dicom(by_id[instance_id], instance_id, NotDicom) for instance_id in order
        ]
        built: list[tuple[str, str, str, str, bytes]] = []  # (key, sop class, study, series, sop)
        try:
            seg = segmentation.build(
                sources,
                [r.mask for r in results],
                job_id=job.job_id,
                algo_id=self.algorithm.algo_id,
                algorithm_version=self.algorithm.version,
            )
            built.append(("seg", segmentation.SEG_SOP_CLASS_UID, *_uids(seg), seg.data))
        except segmentation.SegmentationSkipped as exc:
            measurements["seg_skipped"] = str(exc)
        except MemoryError:
            raise OverMemoryBudget("the job ran out of memory building its SEG") from None
        except Exception as exc:  # the SEG is an extra output: the job still ends DONE
            logger.exception("SEG not built")
            measurements["seg_skipped"] = f"the SEG could not be built ({type(exc).__name__})"
        try:
            capture = secondary_capture.build(
                sources,
                overlay,
                job_id=job.job_id,
                algo_id=self.algorithm.algo_id,
                version=self.algorithm.version,
            )
            built.append(
                ("overlay_sc", secondary_capture.SC_SOP_CLASS_UID, *_uids(capture), capture.data)
            )
        except secondary_capture.CaptureSkipped as exc:
            measurements["overlay_sc_skipped"] = str(exc)
        except MemoryError:
            raise OverMemoryBudget("the job ran out of memory building its overlay SC") from None
        except Exception as exc:  # an extra output too
            logger.exception("Secondary Capture not built")
            measurements["overlay_sc_skipped"] = f"it could not be built ({type(exc).__name__})"
        if not built:
            return None, None
        response = (clock or _Stopwatch()).measure(
            "stow", lambda: self.pacs.store_instances(job.pacs.study_id, [b[-1] for b in built])
        )
        stored = {
            str(v)
            for item in response.get("00081199", {}).get("Value", [])
            for v in item.get("00081155", {}).get("Value", [])
        }
        failed = {
            str((item.get("00081155", {}).get("Value") or [""])[0]): int(reason)
            for item in response.get("00081198", {}).get("Value", [])
            for reason in item.get("00081197", {}).get("Value", [])
        }
        refs: dict[str, DicomInstanceRef] = {}
        for key, sop_class, study_uid, series_uid, sop_uid, _ in built:
            reason = failed.get(sop_uid)
            if sop_uid not in stored and reason != _DUPLICATE_SOP_INSTANCE:
                if reason == 0x0110:
                    raise PacsUnavailable(
                        f"the PACS could not store the {key} (processing failure)"
                    )
                said = f"0x{reason:04X}" if reason is not None else "no answer for it"
                logger.warning("DICOM result refused by the PACS", extra={"failure_reason": said})
                skipped_key = "seg_skipped" if key == "seg" else "overlay_sc_skipped"
                measurements[skipped_key] = f"the PACS refused it ({said})"
                continue
            refs[key] = DicomInstanceRef(
                study_id=study_uid,
                series_id=series_uid,
                instance_id=sop_uid,
                sop_class_uid=sop_class,
            )
        return refs.get("seg"), refs.get("overlay_sc")

    @staticmethod
    def _decode(blobs: list[tuple[str, bytes]]) -> list[Slice]:
        slices = [
            image for instance_id, data in blobs for image in decode_instance(data, instance_id)
        ]
        # A series is processed in acquisition order: InstanceNumber, then the id, then frame.
        return sorted(slices, key=lambda image: image.sort_key)

    def _segment(self, slices: list[Slice], displays: list[np.ndarray]) -> list[SliceResult]:
        results = []
        for image, display in zip(slices, displays, strict=True):
            mask = np.asarray(self.algorithm.segment(display, image), dtype=bool)
            if mask.shape != display.shape:
                raise UnprocessableData(
                    f"{self.algorithm.algo_id} returned a {mask.shape} mask "
                    f"for a {display.shape} image"
                )
            results.append(SliceResult(image, mask, imaging.component_count(mask)))
        return results

    @staticmethod
    def _measurements(results: list[SliceResult]) -> dict[str, float | int | str]:
        area = int(sum(int(r.mask.sum()) for r in results))
        pixels = int(sum(r.mask.size for r in results))
        first = results[0].image.values.shape
        measurements: dict[str, float | int | str] = {
            "instances": len({r.image.instance_id for r in results}),
            "slices": len(results),
            "rows": int(first[0]),
            "columns": int(first[1]),
            "mask_area_px": area,
            "mask_area_fraction": round(area / pixels, 6) if pixels else 0.0,
            "component_count": int(sum(r.components for r in results)),
            "mask_sha256": imaging.mask_digest([r.mask for r in results]),
        }
        spacings = [r.image.pixel_spacing_mm for r in results]
        if all(spacing is not None for spacing in spacings):
            area_mm2 = sum(
                float(r.mask.sum()) * s[0] * s[1]  # type: ignore[index]
                for r, s in zip(results, spacings, strict=True)
            )
            measurements["mask_area_mm2"] = round(area_mm2, 3)
        return measurements

    def _result_document(self, result: JobResult, results: list[SliceResult]) -> bytes:
        document = {
            "result": result.model_dump(mode="json"),
            "algorithm": {
                "algo_id": self.algorithm.algo_id,
                "description": self.algorithm.description,
                "version": self.algorithm.version,
            },
            "slices": [
                {
                    "instance_id": r.image.instance_id,
                    "instance_number": r.image.instance_number,
                    "frame": r.image.frame,
                    "rows": int(r.mask.shape[0]),
                    "columns": int(r.mask.shape[1]),
                    "mask_area_px": int(r.mask.sum()),
                    "component_count": r.components,
                    "mask_sha256": imaging.mask_digest([r.mask]),
                }
                for r in results
            ],
        }
        return json.dumps(document, indent=2, sort_keys=True).encode()

    def _put_overlay(self, overlay_key: str, overlay_png: bytes) -> None:
        self.s3.put_object(
            Bucket=self.output_bucket, Key=overlay_key, Body=overlay_png, ContentType="image/png"
        )

    def _upload(self, overlay_upload: Future[None], result_key: str, document: bytes) -> None:
        # Overlay first: a result.json in the bucket always names an overlay that exists.
        overlay_upload.result()
        self.s3.put_object(
            Bucket=self.output_bucket,
            Key=result_key,
            Body=document,
            ContentType="application/json",
        )


def _uids(instance: segmentation.Segmentation | secondary_capture.Capture) -> tuple[str, str, str]:
    return instance.study_uid, instance.series_uid, instance.sop_instance_uid


def _on_data(stage: str, work: Callable[[], Any]) -> Any:
    """``work()``, with any failure but a ``JobInputError`` turned into one that says where."""
    try:
        return work()
    except JobInputError:
        raise
    except MemoryError:
        raise OverMemoryBudget(f"the job ran out of memory while {stage}") from None
    except Exception as exc:
        # Logged with its traceback: a bug in an algorithm shows up here, on its input.
        logger.exception("processing failed on the job's data", extra={"stage": stage})
        message = str(exc).split("\n")[0][:200]
        raise UnprocessableData(
            f"{stage} failed on this input: {type(exc).__name__}"
            + (f": {message}" if message else "")
        ) from exc
