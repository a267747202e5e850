"""Seeding the PACS bucket with pydicom's real files: layout, idempotence, the broken set."""

from __future__ import annotations

import json
from io import BytesIO

import boto3
import pytest
from fastapi.testclient import TestClient
from pydicom import dcmread

from tests.support.dicom_samples import MR700_SERIES_SIZE, mr700_series, sample_ref

# isort: split
from pacs_api.app import create_app
from pacs_api.seed import main, seed_pacs
from pacs_api.settings import PacsSettings

BUCKET = "pacs-seed-test"
DEMO_OBJECTS = 4 + MR700_SERIES_SIZE
BROKEN_OBJECTS = 3


@pytest.fixture
def bucket(mocked_aws: None) -> str:
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return BUCKET


def test_every_object_is_keyed_by_its_own_uids(bucket: str) -> None:
    # When
    outcomes = seed_pacs(bucket)
    # Then
    s3 = boto3.client("s3")
    assert len(outcomes) == DEMO_OBJECTS
    for outcome in outcomes:
        body = s3.get_object(Bucket=bucket, Key=outcome.key)["Body"].read()
        ds = dcmread(BytesIO(body), stop_before_pixels=True)
        assert outcome.key == (
            f"studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
            f"/instances/{ds.SOPInstanceUID}.dcm"
        )


def test_seeding_twice_uploads_nothing_the_second_time(bucket: str) -> None:
    # Given
    seed_pacs(bucket)
    # When
    again = seed_pacs(bucket)
    # Then
    assert {o.status for o in again} == {"unchanged"}


def test_the_broken_set_comes_only_with_the_flag(bucket: str) -> None:
    # When
    without = seed_pacs(bucket)
    with_broken = seed_pacs(bucket, with_broken=True)
    # Then
    assert not any(o.study_id == "broken-samples" for o in without)
    broken = [o for o in with_broken if o.study_id == "broken-samples"]
    assert sorted(o.instance_id for o in broken) == ["MR_truncated", "no-pixel-data", "not-dicom"]
    assert all(o.status == "uploaded" for o in broken)
    assert len(with_broken) == DEMO_OBJECTS + BROKEN_OBJECTS


def test_the_cli_prints_what_it_put_as_json(
    bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # When
    code = main(["--bucket", bucket, "--json"])
    # Then
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["bucket"] == bucket
    study, series = mr700_series()
    series_rows = [o for o in printed["objects"] if o["series_id"] == series]
    assert len(series_rows) == MR700_SERIES_SIZE
    assert all(o["study_id"] == study for o in series_rows)


def test_the_cli_refuses_to_run_without_a_bucket(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given
    monkeypatch.delenv("PACS_BUCKET", raising=False)
    # When
    with pytest.raises(SystemExit) as exit_info:
        main([])
    # Then
    assert exit_info.value.code == 2
    assert "--bucket" in capsys.readouterr().err


def test_the_api_also_answers_under_its_load_balancer_prefix(bucket: str) -> None:
    # Given: the ALB forwards /pacs/... unchanged
    seed_pacs(bucket)
    ct = sample_ref("CT_small.dcm")
    app = create_app(PacsSettings(pacs_bucket=bucket, root_path="/pacs"))
    with TestClient(app) as client:
        # When
        health = client.get("/pacs/health")
        metadata = client.get(f"/pacs{ct.path}/metadata")
        traversal = client.get("http://testserver/pacs/studies/..%2F..%2Fetc/series")
    # Then
    assert health.json() == {"status": "ok"}
    assert metadata.json()[0]["00080060"]["Value"] == ["CT"]  # DICOM JSON: Modality
    assert traversal.status_code == 400
