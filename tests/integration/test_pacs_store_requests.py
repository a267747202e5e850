"""What one ``PacsStore.put_instance`` costs in S3 requests, and that the cheaper path still
never overwrites: a STOW writes first (conditionally), the seed checks first."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.support.dicom_samples import with_new_uids

# isort: split
from pacs_api.dicom_files import parse_dicom
from pacs_api.dicomjson import summarize
from pacs_api.errors import InstanceConflict
from pacs_api.store import PacsStore

BUCKET = "pacs-store-requests"
IDS = ("1.2.3", "1.2.3.4", "1.2.3.4.5")


@pytest.fixture
def s3(mocked_aws: None) -> Any:
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def calls(s3: Any) -> list[str]:
    """The S3 operations the client sends, in order (``PutObject``, ``HeadObject``...)."""
    seen: list[str] = []
    s3.meta.events.register("before-call.s3.*", lambda model, **_: seen.append(model.name))
    return seen


def stored_bytes(s3: Any) -> bytes:
    key = f"studies/{IDS[0]}/series/{IDS[1]}/instances/{IDS[2]}.dcm"
    body: bytes = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return body


def stored_once(s3: Any, calls: list[str]) -> tuple[PacsStore, bytes, dict[str, Any]]:
    """A store holding one instance (its bytes and summary returned), the calls forgotten."""
    store = PacsStore(BUCKET, s3)
    data, summary = _instance()
    store.put_instance(*IDS, data, summary=summary)
    calls.clear()
    return store, data, summary


def _instance() -> tuple[bytes, dict[str, Any]]:
    data = with_new_uids("CT_small.dcm")
    return data, summarize(parse_dicom(data, "test"), data)


def test_a_new_instance_costs_one_conditional_write_and_its_summary(
    s3: Any, calls: list[str]
) -> None:
    # Given
    data, summary = _instance()
    # When
    status = PacsStore(BUCKET, s3).put_instance(*IDS, data, summary=summary)
    # Then: no HEAD before the write
    assert status == "stored"
    assert calls == ["PutObject", "PutObject"]
    assert stored_bytes(s3) == data


def test_storing_again_is_identical_for_the_same_bytes_and_a_conflict_for_others(
    s3: Any, calls: list[str]
) -> None:
    # Given: an instance stored once, and another with the same UIDs
    store, data, summary = stored_once(s3, calls)
    other, other_summary = _instance()
    # When / Then: the same bytes again are accepted as they are
    assert store.put_instance(*IDS, data, summary=summary) == "identical"
    assert calls == ["PutObject", "HeadObject", "PutObject"]  # refused, compared, summary
    # ...and other bytes under the same UIDs are refused, the stored file untouched
    with pytest.raises(InstanceConflict):
        store.put_instance(*IDS, other, summary=other_summary)
    assert stored_bytes(s3) == data


def test_checking_first_sends_no_bytes_for_an_instance_already_there(
    s3: Any, calls: list[str]
) -> None:
    # Given
    store, data, summary = stored_once(s3, calls)
    # When: the seed's way
    status = store.put_instance(*IDS, data, summary=summary, check_first=True)
    # Then: a HEAD, then only the summary is written
    assert status == "identical"
    assert calls == ["HeadObject", "PutObject"]
