"""DICOMweb as an internet client sees it: ``dicomweb-client`` with a user's bearer token against
the local cloud's ``PacsApiUrl`` (HTTP API, JWT authorizer, VPC link, internal load balancer, PACS
API service), storing through STOW-RS and reading back through QIDO-RS and WADO-RS."""

from __future__ import annotations

from io import BytesIO

import numpy as np
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from localcloud.cloud import LocalCloud
from tests.support.dicom_samples import with_new_uids
from tests.support.users import Users

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def alice_pacs(stack: LocalCloud, users: Users) -> DICOMwebClient:
    return DICOMwebClient(stack.outputs["PacsApiUrl"], headers=users.alice.bearer_headers)


@pytest.fixture(scope="module")
def stored(alice_pacs: DICOMwebClient) -> Dataset:
    """A new study (CT_small with fresh UIDs) stored by Alice through STOW-RS."""
    dataset = dcmread(BytesIO(with_new_uids("CT_small.dcm", study_uid=generate_uid())))
    answer = alice_pacs.store_instances([dataset])
    referenced = [item.ReferencedSOPInstanceUID for item in answer.ReferencedSOPSequence]
    assert referenced == [dataset.SOPInstanceUID]
    assert "FailedSOPSequence" not in answer
    return dataset


def test_a_stored_study_is_found_by_qido_rs_without_patient_attributes(
    alice_pacs: DICOMwebClient, stored: Dataset
) -> None:
    # When
    studies = alice_pacs.search_for_studies(
        search_filters={"StudyInstanceUID": stored.StudyInstanceUID}
    )
    series = alice_pacs.search_for_series(
        stored.StudyInstanceUID, search_filters={"Modality": "CT"}
    )
    # Then
    (study,) = [Dataset.from_json(s) for s in studies]
    assert study.NumberOfStudyRelatedInstances == 1
    assert study.ModalitiesInStudy == "CT"
    assert not study.get("PatientName")
    assert not study.get("PatientID")
    assert [Dataset.from_json(s).SeriesInstanceUID for s in series] == [stored.SeriesInstanceUID]


def test_metadata_frames_and_rendered_reach_an_internet_client(
    alice_pacs: DICOMwebClient, stored: Dataset
) -> None:
    # Given
    ids = (stored.StudyInstanceUID, stored.SeriesInstanceUID, stored.SOPInstanceUID)
    # When
    metadata = Dataset.from_json(alice_pacs.retrieve_instance_metadata(*ids))
    (frame,) = alice_pacs.retrieve_instance_frames(*ids, frame_numbers=[1])
    png = alice_pacs.retrieve_instance_rendered(*ids, media_types=("image/png",))
    # Then: the technical attributes, no patient ones; the native pixels; a PNG
    assert metadata.SOPInstanceUID == stored.SOPInstanceUID
    assert (metadata.Rows, metadata.Columns) == (stored.Rows, stored.Columns)
    assert "PatientName" not in metadata
    assert "PatientBirthDate" not in metadata
    pixels = np.frombuffer(frame, dtype=stored.pixel_array.dtype).reshape(stored.pixel_array.shape)
    assert np.array_equal(pixels, stored.pixel_array)
    assert png.startswith(b"\x89PNG")


def test_whole_instances_are_refused_to_internet_callers_and_no_token_is_401(
    stack: LocalCloud, alice_pacs: DICOMwebClient, stored: Dataset
) -> None:
    # Given
    ids = (stored.StudyInstanceUID, stored.SeriesInstanceUID, stored.SOPInstanceUID)
    # When
    with pytest.raises(requests.HTTPError) as refused:
        alice_pacs.retrieve_instance(*ids)
    anonymous = requests.get(f"{stack.outputs['PacsApiUrl']}/studies", timeout=30)
    # Then
    assert refused.value.response.status_code == 403
    assert anonymous.status_code == 401
