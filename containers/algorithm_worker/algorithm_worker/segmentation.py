"""A job's mask as a DICOM Segmentation (highdicom): binary, one segment, referencing the source
instance(s), in the source study under a new series. Its UIDs derive from the job id, so a retried
job writes the same series and instance again (and the PACS keeps the first copy)."""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

SEG_SERIES_NUMBER = 9901
# The algorithm family (CID 7162) of each plugin; new plugins default to morphological operations.
_FAMILY = {
    "processing_1": codes.cid7162.HistogramAnalysis,  # threshold at mean + 0.5 sd, components
    "processing_2": codes.cid7162.EdgeDetection,  # Canny
    "processing_3": codes.cid7162.HistogramAnalysis,  # Otsu
}
SEG_SOP_CLASS_UID = "1.2.840.10008.5.1.4.1.1.66.4"
MANUFACTURER = "image-video-pipeline"


class SegmentationSkipped(Exception):
    """The source cannot carry a Segmentation (e.g. no common geometry); the job still succeeds."""


@dataclass(frozen=True)
class Segmentation:
    study_uid: str
    series_uid: str
    sop_instance_uid: str
    data: bytes


def uids_for(job_id: str) -> tuple[str, str]:
    """The SEG's Series and SOP Instance UIDs: deterministic per job."""
    return (
        generate_uid(entropy_srcs=[job_id, "seg-series"]),
        generate_uid(entropy_srcs=[job_id, "seg-instance"]),
    )


def build(
    sources: list[Dataset],
    masks: list[np.ndarray],
    *,
    job_id: str,
    algo_id: str,
    algorithm_version: str,
) -> Segmentation:
    """``sources`` in the order of ``masks``: one single-frame instance per mask, or one
    multi-frame instance whose frames are the masks, in frame order."""
    series_uid, sop_uid = uids_for(job_id)
    frames = [int(ds.get("NumberOfFrames") or 1) for ds in sources]
    if len(sources) > 1 and max(frames) > 1:
        raise SegmentationSkipped("a series of multi-frame instances cannot share one SEG")
    pixel_array = np.stack([np.asarray(m, dtype=bool) for m in masks]).astype(np.uint8)
    description = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label=algo_id,
        segmented_property_category=codes.SCT.Tissue,
        segmented_property_type=codes.SCT.Tissue,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=hd.AlgorithmIdentificationSequence(
            name=algo_id,
            version=algorithm_version,
            family=_FAMILY.get(algo_id, codes.cid7162.MorphologicalOperations),
        ),
    )
    try:
        seg = hd.seg.Segmentation(
            source_images=sources,
            pixel_array=pixel_array if len(masks) > 1 else pixel_array[0],
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=[description],
            series_instance_uid=series_uid,
            series_number=SEG_SERIES_NUMBER,
            sop_instance_uid=sop_uid,
            instance_number=1,
            manufacturer=MANUFACTURER,
            manufacturer_model_name=algo_id,
            software_versions=algorithm_version,
            device_serial_number=job_id[:64],
            series_description=f"{algo_id} mask",
        )
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        # highdicom refuses sources it cannot describe (no shared orientation, a SEG as source...)
        raise SegmentationSkipped(f"no SEG for this source: {str(exc)[:200]}") from exc
    out = BytesIO()
    seg.save_as(out)
    return Segmentation(str(seg.StudyInstanceUID), series_uid, sop_uid, out.getvalue())
