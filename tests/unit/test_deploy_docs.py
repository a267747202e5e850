"""The deploy guide and samconfig.toml follow the template: every parameter explained, and the
defaults sam deploy needs."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tools.inventory import template

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("parameter", sorted(template().parameters))
def test_every_template_parameter_is_explained_in_the_deploy_guide(parameter):
    # Given a parameter of template.yaml / When the guide's parameter table is read
    rows = [line for line in GUIDE.splitlines() if line.startswith(f"| `{parameter}` |")]

    # Then it has a row with a default and an explanation
    assert rows, f"docs/deploy.md has no row for parameter {parameter}"
    cells = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert len(cells) == 3
    assert cells[2], f"{parameter}: empty explanation"


def test_samconfig_deploys_with_the_capabilities_and_bucket_the_template_needs():
    # Given samconfig.toml / When its deploy defaults are read
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())["default"]
    deploy = config["deploy"]["parameters"]

    # Then IAM roles and the SAM transform are allowed, the artifact bucket is managed and a
    # change set is shown, and the overridden parameter exists in the template
    assert set(deploy["capabilities"].split()) == {"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"}
    assert deploy["resolve_s3"] is True
    assert deploy["confirm_changeset"] is True
    assert "region" not in deploy, "the region comes from the environment"
    overridden = {pair.split("=")[0] for pair in deploy["parameter_overrides"].split()}
    assert overridden <= set(template().parameters)
    assert config["global"]["parameters"]["stack_name"]
