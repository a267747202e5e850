"""A job's overlay (the source in grey, the mask tinted and outlined, one tile per slice) as a
DICOM Secondary Capture (highdicom) in the source study under a new series, so a viewer shows the
result beside the images it came from. It names its source instances (SourceImageSequence) and,
like the SEG, takes its UIDs from the job id: a retried job stores the same instance again."""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO

import cv2
import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from algorithm_worker.segmentation import MANUFACTURER

SC_SERIES_NUMBER = 9902
SC_SOP_CLASS_UID = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture Image Storage
# Patient-relative direction of +x, +y and +z (LPS): PS3.3 C.7.6.1.1.1.
_LETTERS = (("L", "R"), ("P", "A"), ("H", "F"))
_STUDY_ATTRIBUTES = ("StudyDescription", "StudyID", "AccessionNumber", "ReferringPhysicianName")


class CaptureSkipped(Exception):
    """The source does not say how the image is oriented; the job still succeeds."""


@dataclass(frozen=True)
class Capture:
    study_uid: str
    series_uid: str
    sop_instance_uid: str
    data: bytes


def uids_for(job_id: str) -> tuple[str, str]:
    return (
        generate_uid(entropy_srcs=[job_id, "overlay-series"]),
        generate_uid(entropy_srcs=[job_id, "overlay-instance"]),
    )


def orientation(source: Dataset) -> tuple[str, str]:
    """PatientOrientation of the source's rows and columns: the patient direction each one
    mostly points to, from ImageOrientationPatient, else the source's own PatientOrientation."""
    cosines = source.get("ImageOrientationPatient")
    if cosines is not None and len(cosines) == 6:
        values = [float(v) for v in cosines]
        return _letter(values[:3]), _letter(values[3:])
    declared = source.get("PatientOrientation")
    if declared is not None and len(declared) == 2 and all(len(str(v)) == 1 for v in declared):
        return str(declared[0]), str(declared[1])
    raise CaptureSkipped("the source names no patient orientation (0020,0037 or 0020,0020)")


def _letter(vector: list[float]) -> str:
    axis = int(np.argmax(np.abs(vector)))
    return _LETTERS[axis][0] if vector[axis] > 0 else _LETTERS[axis][1]


def build(
    sources: list[Dataset], overlay_bgr: np.ndarray, *, job_id: str, algo_id: str, version: str
) -> Capture:
    """``overlay_bgr`` as drawn by ``imaging`` (uint8 BGR), for the ``sources`` it shows."""
    reference = sources[0]
    series_uid, sop_uid = uids_for(job_id)
    rgb = np.ascontiguousarray(cv2.cvtColor(overlay_bgr, cv2.COLOR_BGR2RGB))
    try:
        capture = hd.sc.SCImage.from_ref_dataset(
            ref_dataset=reference,
            pixel_array=rgb,
            photometric_interpretation=hd.PhotometricInterpretationValues.RGB,
            bits_allocated=8,
            coordinate_system=hd.CoordinateSystemNames.PATIENT,
            series_instance_uid=series_uid,
            series_number=SC_SERIES_NUMBER,
            sop_instance_uid=sop_uid,
            instance_number=1,
            manufacturer=MANUFACTURER,
            patient_orientation=orientation(reference),
            series_description=f"{algo_id} overlay",
            manufacturer_model_name=algo_id,
            software_versions=version,
        )
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise CaptureSkipped(f"no Secondary Capture for this source: {str(exc)[:200]}") from exc
    # The General Study module's optional attributes, as the SEG copies them: a study list shows
    # the same description whichever of its instances it reads.
    for keyword in _STUDY_ATTRIBUTES:
        if keyword in reference and keyword not in capture:
            setattr(capture, keyword, reference.get(keyword))
    capture.BurnedInAnnotation = "NO"
    # General Series: Laterality is Type 2C; copied from the source, empty (unknown) otherwise.
    capture.Laterality = reference.get("Laterality") or ""
    capture.ImageType = ["DERIVED", "SECONDARY"]
    capture.DerivationDescription = f"{algo_id} {version}: mask tinted red, outlined in yellow"
    capture.SourceImageSequence = [_source_item(ds) for ds in sources]
    out = BytesIO()
    capture.save_as(out)
    return Capture(str(capture.StudyInstanceUID), series_uid, sop_uid, out.getvalue())


def _source_item(source: Dataset) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = source.SOPClassUID
    item.ReferencedSOPInstanceUID = source.SOPInstanceUID
    return item
