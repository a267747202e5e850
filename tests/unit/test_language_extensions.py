"""``Fn::ForEach`` (AWS::LanguageExtensions) expands locally exactly as the SAM CLI expands it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from localcloud.errors import TemplateError
from localcloud.language_extensions import expand, resolve_names
from localcloud.template import load_yaml

ROOT = Path(__file__).resolve().parents[2]
SAM_PYTHON = ROOT / ".venv-tools" / "bin" / "python"  # the SAM CLI's environment (make validate)
FIXTURE = Path(__file__).parent / "fixtures" / "language_extensions.yaml"
SECTIONS = ("Conditions", "Resources", "Outputs")


def _sam_expansion(path: Path) -> dict[str, Any]:
    if not SAM_PYTHON.exists():
        pytest.fail(f"{SAM_PYTHON} is missing: `make .venv-tools/.installed` installs the SAM CLI")
    run = subprocess.run(
        [str(SAM_PYTHON), str(ROOT / "tools" / "checks" / "sam_foreach.py"), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, Any] = json.loads(run.stdout)
    return result


@pytest.mark.parametrize("path", [FIXTURE, ROOT / "template.yaml"], ids=["fixture", "template"])
def test_expansion_matches_the_sam_clis(path):
    # Given a template (the fixture uses every form: lists, a parameter, &{}, Ref, nested loops,
    # loops in Conditions, Outputs and a resource's Properties)
    # When the local cloud and the SAM CLI expand it
    ours = load_yaml(path)
    theirs = _sam_expansion(path)

    # Then every section is the same (the SAM CLI resolves a Ref or GetAtt naming its resource
    # with a variable-free Fn::Sub in its next step, which the local cloud does in this one)
    for section in SECTIONS:
        assert ours.get(section) == resolve_names(theirs.get(section)), section


def test_template_makes_every_algorithms_resources():
    resources = load_yaml(ROOT / "template.yaml")["Resources"]
    for index in ("1", "2", "3"):
        queue = resources[f"Processing{index}RequestQueue"]["Properties"]
        assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
            "Fn::GetAtt": [f"Processing{index}RequestDLQ", "Arn"]
        }
        service = resources[f"Processing{index}Service"]["Properties"]
        assert service["TaskDefinition"] == {"Ref": f"Processing{index}TaskDefinition"}
    assert not any("${" in key or key.startswith("Fn::ForEach") for key in resources)


def test_fixture_makes_what_it_says():
    resources = load_yaml(FIXTURE)["Resources"]
    assert {"Processing1Queue", "Processing3Dlq", "Topicalpha", "Celly2"} <= set(resources)
    assert resources["Processing2Queue"]["Properties"]["QueueName"] == {
        "Fn::Sub": "processing-2.fifo"
    }
    assert resources["Processing2Queue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["Processing2Dlq", "Arn"]
    }
    assert resources["Plain"]["Properties"] == {"DelaySeconds": 60, "MessageRetentionPeriod": 60}
    assert not any(key.startswith("Fn::ForEach") for key in resources)


def _document(resources: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"Transform": ["AWS::LanguageExtensions"], "Resources": resources, **extra}


def test_a_template_without_the_transform_is_left_alone():
    document = {"Resources": {"Fn::ForEach::X": ["I", ["a"], {"Q${I}": {}}]}}
    assert expand(document) is document


def test_the_transform_is_removed_and_sams_kept():
    document = _document({}, Transform=["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"])
    assert expand(document)["Transform"] == "AWS::Serverless-2016-10-31"


@pytest.mark.parametrize(
    ("resources", "parameters", "words"),
    [
        ({"Fn::ForEach::L": ["I", ["a"], {"Queue": {}}]}, {}, "must contain ${I}"),
        ({"Fn::ForEach::L": ["I", ["a", "a"], {"Q${I}": {}}]}, {}, "made twice"),
        ({"Qa": {}, "Fn::ForEach::L": ["I", ["a"], {"Q${I}": {}}]}, {}, "made twice"),
        ({"Fn::ForEach::L": ["I", {"Fn::Split": [",", "a"]}, {"Q${I}": {}}]}, {}, "collection"),
        (
            {"Fn::ForEach::L": ["I", {"Ref": "P"}, {"Q${I}": {}}]},
            {"P": {"Type": "String"}},
            "Comma",
        ),
        ({"Fn::ForEach::P": ["I", ["a"], {"Q${I}": {}}]}, {"P": {"Type": "String"}}, "parameter"),
        ({"Fn::ForEach::L": ["I", ["a"]]}, {}, "expected [Identifier"),
        ({"Fn::ForEach::L": ["my-id", ["a"], {"Q${my-id}": {}}]}, {}, "alphanumeric"),
    ],
)
def test_malformed_loops_are_refused_with_the_reason(resources, parameters, words):
    with pytest.raises(TemplateError, match=words.replace("$", r"\$").replace("[", r"\[")):
        expand(_document(resources, Parameters=parameters))
