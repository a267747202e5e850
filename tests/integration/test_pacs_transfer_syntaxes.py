"""Every pydicom test file with pixel data: stored through STOW-RS, rendered by WADO-RS
``/rendered``, retrieved and decoded by the algorithm worker's reader and segmented by
``processing_1``, or refused with a reason that names why (the few listed below)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import boto3
import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydicom import dcmread
from pydicom.data import get_testdata_files
from pydicom.uid import generate_uid

from pipeline_common import multipart
from tests.support import dicom_samples  # noqa: F401  (puts the containers on sys.path)

# isort: split
from algorithm_worker import imaging
from algorithm_worker.algorithms import REGISTRY
from algorithm_worker.dicom_io import decode_instance
from algorithm_worker.errors import UnreadablePixels
from pacs_api.app import create_app
from pacs_api.settings import PacsSettings

BUCKET = "pacs-syntax-test"
PATIENT_ACCESS = {"x-pacs-patient-access": "allowed"}
BOUNDARY = "syntax-test"

# Refused by STOW-RS (FailureReason 0xC000), with why.
REFUSED = {
    "meta_missing_tsyntax.dcm": "no Transfer Syntax UID in its file meta: its encoding is unknown",
    "nested_priv_SQ.dcm": "no SOP Class, SOP Instance, Study or Series UID at all",
}
# Secondary captures without Study and Series Instance UIDs (a PACS files instances by them):
# refused as they are, stored once a gateway has given them those UIDs.
WITHOUT_STUDY_AND_SERIES = {
    "JPEGLSNearLossless_08.dcm",
    "JPEGLSNearLossless_16.dcm",
    "SC_rgb_jls_lossy_line.dcm",
    "SC_rgb_jls_lossy_sample.dcm",
}
# Stored, but their pixel data cannot be decoded by any decoder (nor by pydicom's own tests):
# the reason returned names the transfer syntax.
UNDECODABLE = {
    "JPEG-lossy.dcm": (
        "JPEG Extended (Process 2 and 4)",
        # 12-bit; its scan header is non-conformant (spectral selection not 0..63 in a
        # sequential scan): libjpeg refuses it, GDCM and Pillow have no 12-bit JPEG Extended.
    ),
    "JPEG2000-embedded-sequence-delimiter.dcm": (
        "JPEG 2000 Image Compression",
        # a sequence delimiter inside the fragment corrupts the JPEG 2000 codestream
    ),
    "MR_truncated.dcm": ("Explicit VR Little Endian",),  # pixel data cut short: 8130 of 8192 bytes
    "badVR.dcm": ("Explicit VR Little Endian",),  # an IS value '1A' in its image pixel module
}


def _pixel_files() -> list[Path]:
    files = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in sorted(get_testdata_files("*")):
            path = Path(name)
            if not path.is_file():
                continue
            try:
                has_pixels = "PixelData" in dcmread(path)
            except Exception:  # not DICOM at all (pydicom ships other test data too)
                has_pixels = False
            if has_pixels:
                files.append(path)
    return files


PIXEL_FILES = _pixel_files()


@pytest.fixture
def client(mocked_aws: None) -> Iterator[TestClient]:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
    with TestClient(create_app(PacsSettings(pacs_bucket=BUCKET))) as test_client:
        yield test_client


def _stow(client: TestClient, data: bytes) -> dict:
    response = client.post(
        "/studies",
        content=multipart.encode([("application/dicom", data)], BOUNDARY),
        headers={
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={BOUNDARY}',
            "Accept": "application/dicom+json",
        },
    )
    assert response.headers["content-type"].startswith("application/dicom+json")
    return dict(response.json())


def _with_study_and_series(data: bytes) -> bytes:
    ds = dcmread(BytesIO(data))
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    out = BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def test_the_survey_covers_the_common_transfer_syntaxes() -> None:
    # Given / When
    syntaxes = {
        str(dcmread(p, stop_before_pixels=True).file_meta.get("TransferSyntaxUID"))
        for p in PIXEL_FILES
    }
    # Then: native (implicit, explicit, big endian), deflate, RLE, JPEG baseline/extended/
    # lossless, JPEG-LS lossless and near-lossless, JPEG 2000 lossless and lossy
    assert {
        "1.2.840.10008.1.2",
        "1.2.840.10008.1.2.1",
        "1.2.840.10008.1.2.2",
        "1.2.840.10008.1.2.1.99",
        "1.2.840.10008.1.2.5",
        "1.2.840.10008.1.2.4.50",
        "1.2.840.10008.1.2.4.51",
        "1.2.840.10008.1.2.4.70",
        "1.2.840.10008.1.2.4.80",
        "1.2.840.10008.1.2.4.81",
        "1.2.840.10008.1.2.4.90",
        "1.2.840.10008.1.2.4.91",
    } <= syntaxes


@pytest.mark.parametrize("path", PIXEL_FILES, ids=[p.name for p in PIXEL_FILES])
def test_stored_rendered_and_decoded_by_the_worker(client: TestClient, path: Path) -> None:
    # Given
    data = path.read_bytes()
    # When
    response = _stow(client, data)
    # Then
    if path.name in REFUSED or path.name in WITHOUT_STUDY_AND_SERIES:
        assert [i["00081197"]["Value"][0] for i in response["00081198"]["Value"]] == [0xC000]
        if path.name in REFUSED:
            return
        data = _with_study_and_series(data)
        response = _stow(client, data)
    assert "00081198" not in response, response
    url = response["00081199"]["Value"][0]["00081190"]["Value"][0].removeprefix("http://testserver")

    rendered = client.get(f"{url}/rendered")
    retrieved = client.get(
        url, headers={**PATIENT_ACCESS, "Accept": 'multipart/related; type="application/dicom"'}
    )
    assert retrieved.status_code == 200
    parts = multipart.split_parts(
        retrieved.content, multipart.boundary_of(retrieved.headers["content-type"])
    )
    assert [p.body for p in parts] == [data]

    if path.name in UNDECODABLE:
        (syntax,) = UNDECODABLE[path.name]
        assert rendered.status_code == 422
        assert syntax in rendered.json()["error"]["message"]
        with pytest.raises(UnreadablePixels) as error:
            decode_instance(parts[0].body, path.name)
        assert f"({syntax})" in str(error.value)
        return
    assert rendered.status_code == 200, rendered.text
    image = cv2.imdecode(np.frombuffer(rendered.content, np.uint8), cv2.IMREAD_UNCHANGED)
    ds = dcmread(BytesIO(data), stop_before_pixels=True)
    assert image.shape[:2] == (ds.Rows, ds.Columns)
    slices = decode_instance(parts[0].body, path.name)
    assert len(slices) == int(ds.get("NumberOfFrames") or 1)
    algorithm = REGISTRY["processing_1"]
    for image_slice in slices[:3]:
        mask = algorithm.segment(imaging.display_image(image_slice), image_slice)
        assert np.asarray(mask).shape == (ds.Rows, ds.Columns)
