"""DICOMweb conformance with a real client: ``dicomweb-client`` against the PACS API served by
uvicorn over moto S3 (seeded with pydicom's real files)."""

from __future__ import annotations

from collections.abc import Iterator
from io import BytesIO

import boto3
import cv2
import numpy as np
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from moto import mock_aws
from pydicom import dcmread
from pydicom.dataset import Dataset

from pipeline_common import aws
from tests.support.dicom_samples import (
    MR700_SERIES_SIZE,
    mr700_series,
    pacs_api_server,
    sample_path,
    sample_ref,
    with_new_uids,
)

# isort: split
from pacs_api.seed import seed_pacs

BUCKET = "pacs-dicomweb-test"
PART_LIMIT = 100_000
PATIENT_ACCESS = {"x-pacs-patient-access": "allowed"}


@pytest.fixture(scope="module")
def pacs_url() -> Iterator[str]:
    with mock_aws():
        aws.clear_clients()
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        seed_pacs(BUCKET, with_broken=True)
        with pacs_api_server(BUCKET, max_stow_part_bytes=PART_LIMIT) as url:
            yield url
    aws.clear_clients()


@pytest.fixture
def clinician(pacs_url: str) -> DICOMwebClient:
    """A caller the gateway grants patient access (group admins or clinicians)."""
    return DICOMwebClient(pacs_url, headers=PATIENT_ACCESS)


@pytest.fixture
def researcher(pacs_url: str) -> DICOMwebClient:
    """A caller without patient access."""
    return DICOMwebClient(pacs_url)


def _values(results: list[dict], keyword: str) -> list:
    return [Dataset.from_json(r).get(keyword) for r in results]


def test_search_for_studies_returns_every_study_with_the_required_attributes(
    clinician: DICOMwebClient,
) -> None:
    # Given
    ct = sample_ref("CT_small.dcm")
    study, _ = mr700_series()
    # When
    results = clinician.search_for_studies()
    # Then
    by_uid = {Dataset.from_json(r).StudyInstanceUID: Dataset.from_json(r) for r in results}
    assert {ct.study_id, study} <= set(by_uid)
    mr700 = by_uid[study]
    assert mr700.NumberOfStudyRelatedSeries == 1
    assert mr700.NumberOfStudyRelatedInstances == MR700_SERIES_SIZE
    assert list(mr700.ModalitiesInStudy) == ["MR"] or mr700.ModalitiesInStudy == "MR"
    assert mr700.StudyDate == "20030505"
    assert mr700.StudyDescription == "Brain-MRA"
    assert str(mr700.PatientName) == "Doe^Peter"
    assert mr700.RetrieveURL.endswith(f"/studies/{study}")


@pytest.mark.parametrize(
    ("filters", "expected", "absent"),
    [
        ({"ModalitiesInStudy": "CT"}, "CT_small.dcm", "MR_small.dcm"),
        ({"StudyDate": "20040101-20041231"}, "CT_small.dcm", "examples_overlay.dcm"),
        ({"StudyDate": "-20040120"}, "CT_small.dcm", "MR_small.dcm"),
        ({"AccessionNumber": "8000000000330109"}, "examples_overlay.dcm", "CT_small.dcm"),
        ({"PatientID": "1CT1"}, "CT_small.dcm", "MR_small.dcm"),
        ({"StudyDescription": "abd*"}, "examples_overlay.dcm", "CT_small.dcm"),
    ],
)
def test_search_for_studies_matches_attributes(
    clinician: DICOMwebClient, filters: dict, expected: str, absent: str
) -> None:
    # When
    results = clinician.search_for_studies(search_filters=filters)
    # Then
    uids = _values(results, "StudyInstanceUID")
    assert sample_ref(expected).study_id in uids
    assert sample_ref(absent).study_id not in uids


def test_search_for_studies_by_study_uid_list(clinician: DICOMwebClient) -> None:
    # Given
    ct, mr = sample_ref("CT_small.dcm"), sample_ref("MR_small.dcm")
    # When
    results = clinician.search_for_studies(
        search_filters={"StudyInstanceUID": f"{ct.study_id},{mr.study_id}"}
    )
    # Then
    assert sorted(_values(results, "StudyInstanceUID")) == sorted([ct.study_id, mr.study_id])


def test_limit_and_offset_page_through_the_studies(clinician: DICOMwebClient) -> None:
    # Given
    every = _values(clinician.search_for_studies(), "StudyInstanceUID")
    # When
    first = clinician.search_for_studies(limit=2)
    rest = clinician.search_for_studies(offset=2)
    # Then
    assert _values(first, "StudyInstanceUID") + _values(rest, "StudyInstanceUID") == every


def test_includefield_adds_attributes(clinician: DICOMwebClient) -> None:
    # Given
    ct = sample_ref("CT_small.dcm")
    # When
    plain = clinician.search_for_instances(ct.study_id, ct.series_id)
    wider = clinician.search_for_instances(
        ct.study_id, ct.series_id, fields=["SliceThickness", "00280030"]
    )
    # Then
    assert "00280030" not in plain[0]
    assert Dataset.from_json(wider[0]).SliceThickness == 5.0
    assert len(Dataset.from_json(wider[0]).PixelSpacing) == 2


def test_search_for_series_hierarchical_and_flat(clinician: DICOMwebClient) -> None:
    # Given
    study, series = mr700_series()
    # When
    in_study = clinician.search_for_series(study)
    flat_ct = clinician.search_for_series(search_filters={"Modality": "CT"})
    # Then
    assert _values(in_study, "SeriesInstanceUID") == [series]
    assert Dataset.from_json(in_study[0]).NumberOfSeriesRelatedInstances == MR700_SERIES_SIZE
    assert _values(flat_ct, "SeriesInstanceUID") == [sample_ref("CT_small.dcm").series_id]
    assert _values(flat_ct, "StudyInstanceUID") == [sample_ref("CT_small.dcm").study_id]


def test_search_for_instances_hierarchical_and_flat(clinician: DICOMwebClient) -> None:
    # Given
    study, series = mr700_series()
    # When
    in_series = clinician.search_for_instances(study, series)
    flat = clinician.search_for_instances(search_filters={"SeriesInstanceUID": series})
    # Then
    numbers = _values(in_series, "InstanceNumber")
    assert len(in_series) == MR700_SERIES_SIZE
    assert numbers == sorted(numbers)  # acquisition order, not the files' order
    assert _values(flat, "SOPInstanceUID") == _values(in_series, "SOPInstanceUID")


def test_without_patient_access_no_patient_attribute_is_returned(
    researcher: DICOMwebClient, pacs_url: str
) -> None:
    # When
    studies = researcher.search_for_studies()
    metadata = researcher.retrieve_series_metadata(*mr700_series())
    # Then
    for dataset in studies + metadata:
        assert not any(tag.startswith("0010") for tag in dataset)
        assert not any(element.get("vr") == "PN" for element in dataset.values())
    plain = requests.get(
        f"{pacs_url}/studies", headers={"Accept": "application/dicom+json"}, timeout=30
    )
    assert "Doe" not in plain.text


def test_without_patient_access_matching_on_patient_attributes_is_refused(
    researcher: DICOMwebClient,
) -> None:
    # When / Then
    with pytest.raises(requests.HTTPError) as error:
        researcher.search_for_studies(search_filters={"PatientID": "1CT1"})
    assert error.value.response.status_code == 403


def test_without_patient_access_whole_instances_are_refused_but_pixels_are_not(
    researcher: DICOMwebClient,
) -> None:
    # Given
    ct = sample_ref("CT_small.dcm")
    # When
    with pytest.raises(requests.HTTPError) as error:
        researcher.retrieve_instance(ct.study_id, ct.series_id, ct.instance_id)
    png = researcher.retrieve_instance_rendered(ct.study_id, ct.series_id, ct.instance_id)
    # Then
    assert error.value.response.status_code == 403
    assert png.startswith(b"\x89PNG")


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "liver_1frame.dcm"])
def test_retrieve_instance_equals_the_stored_file(
    clinician: DICOMwebClient, pacs_url: str, name: str
) -> None:
    # Given
    ref = sample_ref(name)
    stored = sample_path(name).read_bytes()
    # When
    dataset = clinician.retrieve_instance(ref.study_id, ref.series_id, ref.instance_id)
    parts = list(
        clinician._decode_multipart_message(  # the raw bytes of the one part
            requests.get(
                pacs_url + ref.path,
                timeout=30,
                headers={**PATIENT_ACCESS, "Accept": 'multipart/related; type="application/dicom"'},
            ),
            stream=False,
        )
    )
    # Then
    assert dataset == dcmread(BytesIO(stored))
    assert parts == [stored]


def test_retrieve_series_and_study(clinician: DICOMwebClient) -> None:
    # Given
    study, series = mr700_series()
    # When
    in_series = clinician.retrieve_series(study, series)
    in_study = clinician.retrieve_study(study)
    # Then
    assert len(in_series) == len(in_study) == MR700_SERIES_SIZE
    assert {d.SOPInstanceUID for d in in_series} == {d.SOPInstanceUID for d in in_study}


def test_metadata_is_dicom_json_with_bulk_data_by_uri(
    clinician: DICOMwebClient, pacs_url: str
) -> None:
    # Given
    ct = sample_ref("CT_small.dcm")
    # When
    metadata = clinician.retrieve_instance_metadata(ct.study_id, ct.series_id, ct.instance_id)
    bulk_uri = metadata["7FE00010"]["BulkDataURI"]
    bulk = list(clinician._http_get_multipart_application_octet_stream(bulk_uri))
    # Then
    assert Dataset.from_json(metadata).Rows == 128
    assert str(Dataset.from_json(metadata).PatientName) == "CompressedSamples^CT1"
    assert bulk_uri.startswith(pacs_url)
    assert bulk == [dcmread(sample_path("CT_small.dcm")).PixelData]


def test_frames_are_native_pixels(clinician: DICOMwebClient) -> None:
    # Given
    ct = sample_ref("CT_small.dcm")
    # When
    frames = clinician.retrieve_instance_frames(ct.study_id, ct.series_id, ct.instance_id, [1])
    # Then
    assert frames == [dcmread(sample_path("CT_small.dcm")).PixelData]


def test_rendered_png_and_jpeg_with_a_window(clinician: DICOMwebClient) -> None:
    # Given
    mr = sample_ref("MR_small.dcm")
    # When
    png = clinician.retrieve_instance_rendered(mr.study_id, mr.series_id, mr.instance_id)
    jpeg = clinician.retrieve_instance_rendered(
        mr.study_id,
        mr.series_id,
        mr.instance_id,
        media_types=("image/jpeg",),
        params={"window": "600,50,linear"},
    )
    # Then
    png_image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    jpeg_image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_UNCHANGED)
    assert png_image.shape == jpeg_image.shape == (64, 64)
    narrow = ((jpeg_image < 8) | (jpeg_image > 247)).mean()
    assert narrow > ((png_image == 0) | (png_image == 255)).mean()


def test_store_instances_then_read_them_back(clinician: DICOMwebClient) -> None:
    # Given: two new instances of a new series in CT_small's study
    ct = sample_ref("CT_small.dcm")
    files = [with_new_uids("CT_small.dcm", study_uid=ct.study_id) for _ in range(2)]
    datasets = [dcmread(BytesIO(f)) for f in files]
    # When
    response = clinician.store_instances(datasets, study_instance_uid=ct.study_id)
    again = clinician.store_instances(datasets[:1])
    # Then
    assert len(response.ReferencedSOPSequence) == 2
    assert "FailedSOPSequence" not in response
    assert len(again.ReferencedSOPSequence) == 1  # the very same instance: accepted, not doubled
    for dataset in datasets:
        found = clinician.search_for_instances(
            search_filters={"SOPInstanceUID": dataset.SOPInstanceUID}
        )
        assert len(found) == 1
        back = clinician.retrieve_instance(
            dataset.StudyInstanceUID, dataset.SeriesInstanceUID, dataset.SOPInstanceUID
        )
        assert back == dataset
    series = clinician.search_for_series(ct.study_id)
    assert datasets[0].SeriesInstanceUID in _values(series, "SeriesInstanceUID")


def _multipart(parts: list[bytes], boundary: str = "stow-test-boundary") -> tuple[bytes, str]:
    body = b"".join(
        f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + part + b"\r\n"
        for part in parts
    )
    return body + f"--{boundary}--\r\n".encode(), (
        f'multipart/related; type="application/dicom"; boundary={boundary}'
    )


def test_stow_reports_each_bad_part_and_stores_the_good_one(pacs_url: str) -> None:
    # Given: one good instance among five bad ones
    good = with_new_uids("MR_small.dcm")
    no_uid = dcmread(BytesIO(with_new_uids("MR_small.dcm")))
    del no_uid.SeriesInstanceUID
    no_uid_bytes = BytesIO()
    no_uid.save_as(no_uid_bytes, enforce_file_format=True)
    clash = sample_path("MR_truncated.dcm").read_bytes()  # MR_small's UIDs, other content
    oversized = with_new_uids("examples_overlay.dcm")
    body, content_type = _multipart(
        [b"plain text, not DICOM", no_uid_bytes.getvalue(), clash, oversized, good]
    )
    mr_small = sample_ref("MR_small.dcm")
    # When
    response = requests.post(
        f"{pacs_url}/studies",
        data=body,
        headers={"Content-Type": content_type, "Accept": "application/dicom+json"},
        timeout=30,
    )
    # Then
    assert response.status_code == 202
    assert response.headers["content-type"].startswith("application/dicom+json")
    result = Dataset.from_json(response.json())
    reasons = [item.FailureReason for item in result.FailedSOPSequence]
    assert reasons == [0xC000, 0xC000, 0x0111, 0xA700]
    assert result.FailedSOPSequence[2].ReferencedSOPInstanceUID == mr_small.instance_id
    assert (
        result.FailedSOPSequence[3].ReferencedSOPInstanceUID
        == dcmread(BytesIO(oversized)).SOPInstanceUID
    )
    assert [i.ReferencedSOPInstanceUID for i in result.ReferencedSOPSequence] == [
        dcmread(BytesIO(good)).SOPInstanceUID
    ]
    # and the instance already stored under the clashing UID is untouched
    client = DICOMwebClient(pacs_url, headers=PATIENT_ACCESS)
    kept = client.retrieve_instance(mr_small.study_id, mr_small.series_id, mr_small.instance_id)
    assert kept == dcmread(sample_path("MR_small.dcm"))


def test_stow_to_a_study_refuses_instances_of_another_study(pacs_url: str) -> None:
    # Given
    body, content_type = _multipart([with_new_uids("MR_small.dcm")])
    # When
    response = requests.post(
        f"{pacs_url}/studies/{sample_ref('CT_small.dcm').study_id}",
        data=body,
        headers={"Content-Type": content_type},
        timeout=30,
    )
    # Then: every part failed
    assert response.status_code == 409
    assert Dataset.from_json(response.json()).FailedSOPSequence[0].FailureReason == 0xA900


@pytest.mark.parametrize(
    "content_type", ["application/dicom", 'multipart/related; type="application/dicom+json"']
)
def test_stow_refuses_bodies_it_cannot_take(pacs_url: str, content_type: str) -> None:
    # When
    response = requests.post(
        f"{pacs_url}/studies", data=b"x", headers={"Content-Type": content_type}, timeout=30
    )
    # Then
    assert response.status_code == 415


def test_a_compressed_instance_is_sent_as_stored_or_decompressed_on_request(
    clinician: DICOMwebClient,
) -> None:
    # Given: a JPEG 2000 instance stored through STOW-RS
    stored = dcmread(sample_path("JPEG2000.dcm"))
    clinician.store_instances([stored])
    ids = (stored.StudyInstanceUID, stored.SeriesInstanceUID, stored.SOPInstanceUID)
    # When
    as_stored = clinician.retrieve_instance(*ids)
    explicit = clinician.retrieve_instance(
        *ids, media_types=(("application/dicom", "1.2.840.10008.1.2.1"),)
    )
    compressed_frame = clinician.retrieve_instance_frames(
        *ids, [1], media_types=(("application/octet-stream", "*"),)
    )
    native_frame = clinician.retrieve_instance_frames(*ids, [1])
    # Then
    assert as_stored.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.91"
    assert explicit.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert np.array_equal(explicit.pixel_array, stored.pixel_array)
    assert compressed_frame[0].startswith(b"\xff\x4f")  # a JPEG 2000 codestream
    assert native_frame == [stored.pixel_array.tobytes()]  # native little endian
