"""tools.images push against a stack's ECR repositories in moto (Docker replaced by a recorder)."""

from __future__ import annotations

import base64
import json

import boto3
import pytest

from tests.unit.test_deploy_images import GIT_REVISION, Recorder
from tools import images
from tools.inventory import template

REPOSITORIES = {
    "GrayscaleRepository": "pipeline-grayscale",
    "PacsApiRepository": "pipeline-pacs-api",
}


@pytest.fixture
def stack(mocked_aws: None):
    """A stack whose grayscale repository is an output and whose PACS one is only a resource."""
    body = {
        "Resources": {
            logical: {"Type": "AWS::ECR::Repository", "Properties": {"RepositoryName": name}}
            for logical, name in REPOSITORIES.items()
        },
        "Outputs": {
            "GrayscaleRepositoryUri": {
                "Value": {"Fn::GetAtt": ["GrayscaleRepository", "RepositoryUri"]}
            }
        },
    }
    boto3.client("cloudformation").create_stack(StackName="pipeline", TemplateBody=json.dumps(body))
    return "123456789012.dkr.ecr.us-east-1.amazonaws.com"


def test_repository_uris_come_from_outputs_or_from_the_stack_resources(stack):
    # Given the stack / When the URIs of both repositories are looked up
    uris = images.repository_uris(
        boto3.client("cloudformation"),
        boto3.client("ecr"),
        "pipeline",
        sorted(REPOSITORIES),
        images.repository_outputs(template()),
    )

    # Then one comes from its output, the other from describe_stack_resource + ECR
    assert uris == {
        "GrayscaleRepository": f"{stack}/pipeline-grayscale",
        "PacsApiRepository": f"{stack}/pipeline-pacs-api",
    }


def test_push_logs_in_with_the_ecr_token_on_stdin_and_pushes_to_the_stack(
    stack, monkeypatch, capsys
):
    # Given a working Docker and a deployed stack
    monkeypatch.setattr(images.shutil, "which", lambda name: "/usr/bin/docker")
    runner = Recorder()
    token = boto3.client("ecr").get_authorization_token()["authorizationData"][0]
    password = base64.b64decode(token["authorizationToken"]).decode().partition(":")[2]

    # When two images are pushed
    argv = ["push", "--stack-name", "pipeline", "--only", "grayscale", "--only", "pacs_api"]
    assert images.main(argv, run=runner) == 0

    # Then docker logs in with the password on stdin (never in argv) and pushes each image
    [(login, login_kwargs)] = [(a, k) for a, k in runner.calls if a[:2] == ["docker", "login"]]
    assert login == ["docker", "login", "--username", "AWS", "--password-stdin", stack]
    assert login_kwargs["input"] == password
    assert all(password not in " ".join(argv) for argv in runner.commands())
    pushes = [c for c in runner.commands() if "--push" in c]
    assert [p[p.index("--tag") + 1] for p in pushes] == [
        f"{stack}/pipeline-grayscale:abc1234",
        f"{stack}/pipeline-pacs-api:abc1234",
    ]
    assert "ImageTag=abc1234" in capsys.readouterr().out


def _put_tag(repository: str, tag: str) -> None:
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "digest": "sha256:" + "a" * 64,
            "size": 1,
            "mediaType": "application/vnd.docker.container.image.v1+json",
        },
        "layers": [],
    }
    boto3.client("ecr").put_image(
        repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag
    )


def test_a_revision_already_pushed_is_skipped(stack, monkeypatch, capsys):
    # Given the grayscale image of this revision is already in its repository
    monkeypatch.setattr(images.shutil, "which", lambda name: "/usr/bin/docker")
    _put_tag("pipeline-grayscale", GIT_REVISION)
    runner = Recorder()

    # When both images are pushed
    argv = ["push", "--stack-name", "pipeline", "--only", "grayscale", "--only", "pacs_api"]
    assert images.main(argv, run=runner) == 0

    # Then only the PACS image is built and pushed
    pushes = [c for c in runner.commands() if "--push" in c]
    assert [p[p.index("--file") + 1] for p in pushes] == ["containers/pacs_api/Dockerfile"]
    assert "already in" in capsys.readouterr().out


def test_a_dirty_tag_already_pushed_is_refused_because_tags_are_immutable(
    stack, monkeypatch, capsys
):
    # Given a dirty work tree whose tag was pushed before
    monkeypatch.setattr(images.shutil, "which", lambda name: "/usr/bin/docker")
    _put_tag("pipeline-grayscale", f"{GIT_REVISION}-dirty")

    # When it is pushed again
    code = images.main(
        ["push", "--stack-name", "pipeline", "--only", "grayscale"], run=Recorder(dirty=True)
    )

    # Then nothing is built and the message says how to go on
    assert code == 1
    assert "image tags are immutable" in capsys.readouterr().err


def test_push_to_a_missing_stack_says_to_deploy_first(mocked_aws: None, monkeypatch, capsys):
    code = images.main(["push", "--stack-name", "nope", "--tag", "t"], run=Recorder())
    assert code == 1
    assert "deploy it first" in capsys.readouterr().err
