"""``python -m clients.pacs import``: pydicom's whole test-file folder into an empty PACS through
STOW-RS, counted, then again (everything already present), against the real PACS API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from pydicom.data import get_testdata_file

from clients import pacs as pacs_cli
from tests.support.dicom_samples import pacs_api_server

BUCKET = "pacs-import-test"


@pytest.fixture
def pacs_url(mocked_aws: None) -> Iterator[str]:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
    with pacs_api_server(BUCKET) as url:
        yield url


def _test_files() -> Path:
    ct = get_testdata_file("CT_small.dcm", download=False)
    assert ct is not None
    return Path(ct).parent


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = pacs_cli.main(["import", *argv, "--json", "--token", "test-token"])
    return code, json.loads(capsys.readouterr().out)


def test_importing_pydicoms_test_files_counts_every_file(
    pacs_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given: an empty PACS and pydicom's test-file folder (with subfolders)
    folder = _test_files()
    every_file = [p for p in folder.rglob("*") if p.is_file()]
    # When
    code, first = _run(capsys, str(folder), "--url", pacs_url, "--batch-size", "16")
    code_again, second = _run(capsys, str(folder), "--url", pacs_url)
    # Then: every file is accounted for once
    assert len(first["files"]) == len(every_file)
    counted = first["stored"] + first["already_present"] + first["failed"] + first["skipped"]
    assert counted == len(every_file)
    # pydicom ships a byte-identical copy or two under other names: present once stored
    assert first["already_present"] <= 2
    assert first["stored"] > 50
    assert code == 1  # some of pydicom's files are refused on purpose
    by_name = {Path(f["path"]).name: f for f in first["files"]}
    assert by_name["CT_small.dcm"]["status"] == "stored"
    assert by_name["JPEGLSNearLossless_08.dcm"]["reason"].startswith("0xC000")  # no Study UID
    assert by_name["MR_truncated.dcm"]["reason"].startswith("0x0111")  # MR_small's UID, other bytes
    skipped = [f for f in first["files"] if f["status"] == "skipped"]
    assert all(f["reason"] in ("not a DICOM file", "no SOP Instance UID") for f in skipped)
    # ...what the PACS holds is exactly what was stored
    instances = httpx.get(
        f"{pacs_url}/instances", headers={"Accept": "application/dicom+json"}, timeout=60
    ).json()
    assert len(instances) == first["stored"]
    # ...and a second import stores nothing new and fails the same files
    assert code_again == 1
    assert second["stored"] == 0
    assert second["already_present"] == first["stored"] + first["already_present"]
    assert second["failed"] == first["failed"]


def test_an_unreachable_pacs_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    # Given
    ct = get_testdata_file("CT_small.dcm", download=False)
    # When
    code = pacs_cli.main(["import", str(ct), "--url", "http://127.0.0.1:9", "--token", "t"])
    # Then
    assert code == 2
    assert "unreachable" in capsys.readouterr().err


def test_the_token_is_sent_as_a_bearer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Given: a PACS that records what it receives
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        if request.method == "GET":
            return httpx.Response(200, json=[])
        return httpx.Response(200, json={})

    client = pacs_cli.StowClient(
        "http://pacs", lambda: "secret", http=httpx.Client(transport=httpx.MockTransport(handler))
    )
    ct = get_testdata_file("CT_small.dcm", download=False)
    # When
    summary = pacs_cli.run_import([Path(str(ct))], client, batch_size=5, batch_bytes=10**8)
    # Then
    assert seen == ["Bearer secret", "Bearer secret"]
    assert summary.count("failed") == 1  # the fake PACS referenced nothing
