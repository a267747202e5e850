"""The PACS API against a moto S3 bucket seeded with real pydicom files."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from pipeline_common.observability import logger
from tests.support import dicom_samples
from tests.support.dicom_samples import broken_ref, mr700_series, sample_ref

# isort: split
from pacs_api.app import create_app
from pacs_api.seed import seed_pacs
from pacs_api.settings import PacsSettings

BUCKET = "pacs-bucket-test"
EXPIRY = 120
PATIENT_ACCESS = {"x-pacs-patient-access": "allowed"}


@pytest.fixture
def client(mocked_aws: None) -> Iterator[TestClient]:
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    seed_pacs(BUCKET, with_broken=True)
    settings = PacsSettings(pacs_bucket=BUCKET, presign_expiry_seconds=EXPIRY)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_health_answers_ok(client: TestClient) -> None:
    # When
    response = client.get("/health")
    # Then
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def _values(dataset: dict[str, Any], tag: str) -> list[Any]:
    return list(dataset.get(tag, {}).get("Value", []))


def test_lists_every_seeded_study_as_dicom_json_even_when_the_accept_header_is_absent(
    client: TestClient,
) -> None:
    # Given: a caller that names no media type (the old project JSON shape is gone)
    ct = sample_ref("CT_small.dcm")
    # When
    response = client.get("/studies", headers={"accept": ""})
    # Then
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/dicom+json"
    body = response.json()
    study_ids = [_values(s, "0020000D")[0] for s in body]
    assert ct.study_id in study_ids
    assert mr700_series()[0] in study_ids
    assert dicom_samples.BROKEN_STUDY in study_ids
    ct_study = body[study_ids.index(ct.study_id)]
    assert _values(ct_study, "00080061") == ["CT"]  # ModalitiesInStudy
    assert _values(ct_study, "00201208") == [1]  # NumberOfStudyRelatedInstances


def test_lists_series_and_instances_of_a_study(client: TestClient) -> None:
    # Given
    study, series = mr700_series()
    # When
    series_body = client.get(f"/studies/{study}/series").json()
    instances_body = client.get(f"/studies/{study}/series/{series}/instances").json()
    # Then
    assert [_values(s, "0020000E")[0] for s in series_body] == [series]
    assert _values(series_body[0], "00201209") == [dicom_samples.MR700_SERIES_SIZE]
    assert len(instances_body) == dicom_samples.MR700_SERIES_SIZE
    assert all(_values(i, "00080018") for i in instances_body)


def test_metadata_has_the_technical_tags_and_no_patient_data(
    client: TestClient, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given: CT_small.dcm names its patient "CompressedSamples^CT1"
    ct = sample_ref("CT_small.dcm")
    patient_name = "CompressedSamples"
    caplog.set_level(logging.DEBUG)
    # When: a browser caller (no patient access), naming no media type
    response = client.get(f"{ct.path}/metadata")
    # Then
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/dicom+json"
    [meta] = response.json()
    assert _values(meta, "00080060") == ["CT"]  # Modality
    assert (_values(meta, "00280010"), _values(meta, "00280011")) == ([128], [128])
    assert _values(meta, "00280100") == [16]  # BitsAllocated
    assert _values(meta, "00200013") == [1]  # InstanceNumber
    assert "BulkDataURI" in meta["7FE00010"]
    assert len(_values(meta, "00280030")) == 2  # PixelSpacing
    assert patient_name not in response.text
    assert not any(tag.startswith("0010") for tag in meta)
    logged = [logger.registered_formatter.format(record) for record in caplog.records]
    assert any(ct.instance_id in line for line in logged)  # the request itself was logged
    captured = capsys.readouterr()
    assert patient_name not in "".join(logged) + captured.out + captured.err


def test_metadata_keeps_every_voi_window(client: TestClient) -> None:
    # Given: examples_overlay.dcm carries two window centre/width pairs
    ref = sample_ref("examples_overlay.dcm")
    # When
    [meta] = client.get(f"{ref.path}/metadata").json()
    # Then
    assert [float(v) for v in _values(meta, "00281050")] == [450.0, 200.0]
    assert [float(v) for v in _values(meta, "00281051")] == [790.0, 443.0]


def test_url_is_presigned_for_the_instance_with_a_short_expiry(client: TestClient) -> None:
    # Given
    mr = sample_ref("MR_small.dcm")
    # When
    body = client.get(f"{mr.path}/url", headers=PATIENT_ACCESS).json()
    # Then
    assert body["expires_in"] == EXPIRY
    url = urlparse(body["url"])
    assert url.path.endswith(f"/instances/{mr.instance_id}.dcm")
    query = parse_qs(url.query)
    assert query["X-Amz-Expires"] == [str(EXPIRY)]
    assert "X-Amz-Signature" in query


def test_rendered_is_a_png_of_the_instance_size(client: TestClient) -> None:
    # Given
    ct = sample_ref("CT_small.dcm")
    # When
    response = client.get(f"{ct.path}/rendered")
    # Then
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    image = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image.shape == (128, 128)
    assert image.min() == 0
    assert image.max() == 255


def test_rendered_applies_the_window_from_the_query(client: TestClient) -> None:
    # Given: MR_small's own window is 600/1600; a narrow window saturates more pixels
    mr = sample_ref("MR_small.dcm")
    # When
    own = client.get(f"{mr.path}/rendered").content
    narrow = client.get(f"{mr.path}/rendered", params={"window_center": 600, "window_width": 50})
    # Then
    own_image = cv2.imdecode(np.frombuffer(own, np.uint8), cv2.IMREAD_UNCHANGED)
    narrow_image = cv2.imdecode(np.frombuffer(narrow.content, np.uint8), cv2.IMREAD_UNCHANGED)
    saturated = (narrow_image == 0) | (narrow_image == 255)
    assert saturated.mean() > ((own_image == 0) | (own_image == 255)).mean()
    assert saturated.mean() > 0.9


@pytest.mark.parametrize(
    "query", [{"window_width": 0}, {"window_center": "abc"}, {"frame": -1}, {"frame": 5}]
)
def test_rendered_refuses_bad_window_queries(client: TestClient, query: dict[str, object]) -> None:
    # Given
    mr = sample_ref("MR_small.dcm")
    # When
    response = client.get(f"{mr.path}/rendered", params=query)
    # Then
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_query"


def test_a_presigned_link_needs_patient_access(client: TestClient) -> None:
    # Given: a link hands out the whole file, patient attributes included
    mr = sample_ref("MR_small.dcm")
    # When
    response = client.get(f"{mr.path}/url")
    # Then
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "patient_access_required"


@pytest.mark.parametrize("suffix", ["/metadata", "/url", "/rendered"])
def test_unknown_instance_is_404(client: TestClient, suffix: str) -> None:
    # Given
    ct = sample_ref("CT_small.dcm")
    path = f"/studies/{ct.study_id}/series/{ct.series_id}/instances/1.2.3.4{suffix}"
    # When
    response = client.get(path, headers=PATIENT_ACCESS)
    # Then
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "path",
    ["/studies/1.2.3/series", "/studies/1.2.3/series/4.5.6/instances", "/studies/1.2/unknown"],
)
def test_unknown_study_or_series_is_404(client: TestClient, path: str) -> None:
    # When
    response = client.get(path)
    # Then
    assert response.status_code == 404


@pytest.mark.parametrize(
    "raw_path",
    [
        "/studies/%2e%2e/series",
        "/studies/%2E%2E/series",
        "/studies/..%2Fetc/series",
        "/studies/..%2fpasswd/series/x/instances",
        "/studies/1.2%2F3/series",
        "/studies/1.2%5C3/series",
        "/studies/%252e%252e/series",
        "/studies/1.2/series/..%2F..%2F/instances",
        "/studies/1.2/series/3.4/instances/%2e%2e/metadata",
        "/studies/a..b/series",
        "/studies/.hidden/series",
        "/studies/$bad/series",
        "/studies/" + "9" * 65 + "/series",
    ],
)
def test_traversal_and_malformed_ids_are_400(client: TestClient, raw_path: str) -> None:
    # When: sent byte for byte (httpx would otherwise normalise some of these paths)
    response = client.get(f"http://testserver{raw_path}")
    # Then
    assert response.status_code == 400, raw_path
    assert response.json()["error"]["code"] == "invalid_identifier"


def test_a_non_dicom_object_is_a_clear_422(client: TestClient) -> None:
    # Given
    ref = broken_ref("not-dicom")
    # When
    metadata = client.get(f"{ref.path}/metadata")
    rendered = client.get(f"{ref.path}/rendered")
    # Then
    for response in (metadata, rendered):
        assert response.status_code == 422
        assert response.json() == {
            "error": {"code": "not_dicom", "message": "instance not-dicom is not a DICOM file"}
        }


def test_a_truncated_dicom_has_metadata_but_no_preview(client: TestClient) -> None:
    # Given
    ref = broken_ref("MR_truncated")
    # When
    metadata = client.get(f"{ref.path}/metadata")
    rendered = client.get(f"{ref.path}/rendered")
    # Then
    assert metadata.status_code == 200
    assert _values(metadata.json()[0], "00080060") == ["MR"]  # Modality
    assert rendered.status_code == 422
    assert rendered.json()["error"]["code"] == "unreadable_pixels"
    assert "less than expected" in rendered.json()["error"]["message"]


def test_a_dicom_without_pixels_has_no_preview(client: TestClient) -> None:
    # Given
    ref = broken_ref("no-pixel-data")
    # When
    response = client.get(f"{ref.path}/rendered")
    # Then
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "instance no-pixel-data has no pixel data"


def test_no_origin_is_allowed_by_default(client: TestClient) -> None:
    # When a browser page of any origin calls the service directly
    response = client.get("/studies", headers={"Origin": "http://localhost:5173"})
    # Then it gets no CORS grant: browsers come through ServicesApi, which answers for CORS
    assert "access-control-allow-origin" not in response.headers


def test_cors_allows_only_the_configured_origin(mocked_aws: None) -> None:
    # Given a service told to allow the console's origin
    app = create_app(
        PacsSettings(pacs_bucket="pacs-bucket", cors_allow_origins="https://console.example")
    )
    with TestClient(app) as client:
        # When the console and another page call it
        allowed = client.get("/health", headers={"Origin": "https://console.example"})
        other = client.get("/health", headers={"Origin": "https://evil.example"})
    # Then only the console's origin is granted
    assert allowed.headers["access-control-allow-origin"] == "https://console.example"
    assert "access-control-allow-origin" not in other.headers


def test_a_missing_bucket_is_a_503_not_a_crash(mocked_aws: None) -> None:
    # Given
    app = create_app(PacsSettings(pacs_bucket="no-such-bucket"))
    with TestClient(app) as client:
        # When
        response = client.get("/studies")
    # Then
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "store_unavailable"
