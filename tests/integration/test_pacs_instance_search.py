"""A QIDO-RS search of a series for given SOP Instance UIDs (what a worker sends before it
retrieves an instance): those instances are read by their keys instead of listing the series, and
the answer is the same as the listing's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient

from pipeline_common import aws
from tests.support.dicom_samples import mr700_series, sample_ref

# isort: split
from pacs_api.app import create_app
from pacs_api.seed import seed_pacs
from pacs_api.settings import PacsSettings

BUCKET = "pacs-instance-search"
SOP_UID = "00080018"
INCLUDE = {"includefield": "00280002,00280100,00280008"}  # what the worker asks for


@pytest.fixture
def client(mocked_aws: None) -> Iterator[TestClient]:
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    seed_pacs(BUCKET)
    with TestClient(create_app(PacsSettings(pacs_bucket=BUCKET))) as test_client:
        yield test_client


@pytest.fixture
def s3_calls(client: TestClient) -> list[str]:
    """The S3 operations the PACS sends from here on (``ListObjectsV2``, ``HeadObject``...)."""
    seen: list[str] = []
    aws.client("s3").meta.events.register(
        "before-call.s3.*", lambda model, **_: seen.append(model.name)
    )
    return seen


def search(client: TestClient, study: str, series: str, **query: str) -> Any:
    return client.get(f"/studies/{study}/series/{series}/instances", params={**INCLUDE, **query})


def uid_of(result: dict[str, Any]) -> str:
    return str(result[SOP_UID]["Value"][0])


def test_one_instance_is_read_by_its_key_and_answered_as_the_listing_would(
    client: TestClient, s3_calls: list[str]
) -> None:
    # Given a series of many instances, and one of them as the whole listing shows it
    study, series = mr700_series()
    listed = search(client, study, series).json()
    wanted = listed[len(listed) // 2]
    s3_calls.clear()

    # When it alone is searched for
    response = search(client, study, series, SOPInstanceUID=uid_of(wanted))

    # Then the answer is that result, and the series was not listed
    assert response.status_code == 200
    assert response.json() == [wanted]
    assert "ListObjectsV2" not in s3_calls
    assert "HeadObject" in s3_calls


def test_a_list_of_uids_answers_the_stored_ones_in_the_listings_order(client: TestClient) -> None:
    study, series = mr700_series()
    listed = search(client, study, series).json()
    first, last = uid_of(listed[0]), uid_of(listed[-1])

    response = search(client, study, series, SOPInstanceUID=f"{last},1.2.3.999,{first}")

    assert [uid_of(r) for r in response.json()] == [first, last]


def test_an_instance_not_in_a_known_series_is_an_empty_answer(client: TestClient) -> None:
    ct = sample_ref("CT_small.dcm")

    response = search(client, ct.study_id, ct.series_id, SOPInstanceUID="1.2.3.999")

    assert response.status_code == 200
    assert response.json() == []


def test_an_instance_of_an_unknown_series_is_still_404(client: TestClient) -> None:
    ct = sample_ref("CT_small.dcm")

    response = search(client, ct.study_id, "1.2.3.998", SOPInstanceUID=ct.instance_id)

    assert response.status_code == 404


def test_a_uid_that_is_no_identifier_is_matched_against_the_listing(
    client: TestClient, s3_calls: list[str]
) -> None:
    # Given a query naming CT_small's instance and something that can name no stored object
    ct = sample_ref("CT_small.dcm")

    response = search(client, ct.study_id, ct.series_id, SOPInstanceUID=f"{ct.instance_id},../../x")

    # Then no key is built from it: the series is listed, and its instance found there
    assert [uid_of(r) for r in response.json()] == [ct.instance_id]
    assert "ListObjectsV2" in s3_calls
