"""The local cloud's moto patches still fit the moto that is installed.

Each moto internal the local cloud replaces or wraps is listed in
``localcloud/moto_fingerprints.py`` with a fingerprint of its source in the moto it was written
for. These tests fail when moto changes: a new version, a patched internal whose source changed
(re-read the patch against it), or a bug a patch works around that moto has fixed (drop the
patch). They run moto in fresh interpreters, so no patch applied elsewhere leaks in.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import moto
import pytest

from localcloud.moto_fingerprints import MOTO_VERSION, PATCHED

ROOT = Path(__file__).resolve().parents[2]


def _fresh(mode: str) -> dict[str, Any]:
    run = subprocess.run(
        [sys.executable, "-m", "tests.support.moto_probe", mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def fingerprints() -> dict[str, Any]:
    return _fresh("fingerprints")


@pytest.fixture(scope="module")
def unpatched() -> dict[str, Any]:
    return _fresh("unpatched")


@pytest.fixture(scope="module")
def patched() -> dict[str, Any]:
    return _fresh("patched")


def test_moto_is_the_version_the_patches_were_written_for():
    assert moto.__version__ == MOTO_VERSION, (
        f"moto {moto.__version__} is installed, the patches target {MOTO_VERSION}: re-read each "
        "patch in localcloud/moto_fingerprints.py against the new source, then update it"
    )


@pytest.mark.parametrize("entry", PATCHED, ids=lambda e: e.target.rsplit(":", 1)[-1])
def test_each_patched_internal_is_unchanged(entry, fingerprints):
    assert fingerprints[entry.target] == entry.fingerprint, (
        f"{entry.target} changed in moto {moto.__version__}: re-read {entry.patch} "
        f"({entry.why}) against it, then update its fingerprint"
    )


def test_definite_json_paths_are_scalars_only_with_the_patch(unpatched, patched):
    assert unpatched["definite_path"] == [1], "moto fixed it: drop _patch_definite_json_paths"
    assert patched["definite_path"] == 1


def test_awsvpc_enis_have_a_dns_name_only_with_the_patch(unpatched, patched):
    assert not unpatched["eni_has_private_dns_name"], "moto fixed it: drop the ENI patch"
    assert patched["eni_has_private_dns_name"]


def test_fargate_containers_may_omit_memory_only_with_the_patch(unpatched, patched):
    assert unpatched["fargate_without_container_memory"] == "TypeError", (
        "moto fixed it: drop _patch_fargate_resource_requirements"
    )
    assert patched["fargate_without_container_memory"] == "accepted"


def test_fifo_queues_remember_deduplication_ids_only_with_the_patch(unpatched, patched):
    assert unpatched["fifo_duplicate_after_delete"] == 1, (
        "moto fixed it: drop _patch_sqs_fifo_deduplication"
    )
    assert patched["fifo_duplicate_after_delete"] == 0


def test_s3_records_carry_version_sequencer_and_slashes_only_with_the_patch(unpatched, patched):
    before, after = unpatched["s3_record_object"], patched["s3_record_object"]
    assert "versionId" not in before or "%2F" in before["key"], (
        "moto fixed it: drop _patch_s3_notification_records"
    )
    assert after["key"] == "in/a+b.jpg"
    assert after["versionId"]
    assert after["sequencer"]


def test_cognito_token_operations_need_no_sigv4_only_with_the_patch(unpatched, patched):
    assert unpatched["cognito_operations_needing_sigv4"], (
        "moto lists them all now: drop _patch_public_cognito_operations"
    )
    assert patched["cognito_operations_needing_sigv4"] == []


def test_our_resource_names_replace_nothing_of_motos(unpatched, patched):
    # moto authorizes these services' calls against '*'; iam._patch_resources gives each call
    # its resource's ARN. If moto grows its own, ours would hide it: re-read both.
    assert unpatched["responses_without_a_resource"] == [
        "DynamoHandler",
        "EC2ContainerServiceResponse",
        "KinesisResponse",
        "SecretsManagerResponse",
        "SNSResponse",
        "StepFunctionResponse",
    ]
    assert patched["responses_without_a_resource"] == []


def test_count_queries_copy_nothing_and_count_the_same_only_with_the_patch(unpatched, patched):
    before, after = unpatched["count_queries"], patched["count_queries"]
    assert before["copied_values"] > 0, "moto counts without copying now: drop the COUNT patch"
    assert after["copied_values"] == 0
    assert after["count"] == before["count"] == 14
    assert after["filtered_count"] == before["filtered_count"] == 6
    assert after["items"] == before["items"]
    assert (
        after["item_attributes"] == before["item_attributes"] == ["created_at", "job_id", "owner"]
    )
