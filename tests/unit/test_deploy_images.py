"""tools.images: which images the template needs, the docker commands it would run, and what it
says where Docker is missing. No Docker engine here: every command goes to a recording runner."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tools import images
from tools.inventory import InventoryError, containers, template

GIT_REVISION = "abc1234"


class Recorder:  # also used by tests/integration/test_deploy_images_push.py
    """Stands in for subprocess.run: records each command and answers like a healthy host."""

    def __init__(self, dirty: bool = False, fail: set[str] = frozenset()) -> None:
        self.calls: list[tuple[list[str], dict[str, Any]]] = []
        self.dirty = dirty
        self.fail = fail

    def __call__(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append((list(argv), kwargs))
        words = " ".join(argv[:3])
        code = 1 if any(words.startswith(f) for f in self.fail) else 0
        out = {"git rev-parse --short": f"{GIT_REVISION}\n"}.get(words, "")
        if argv[:2] == ["git", "status"] and self.dirty:
            out = " M template.yaml\n"
        return subprocess.CompletedProcess(argv, code, out, "boom" if code else "")

    def commands(self) -> list[list[str]]:
        return [argv for argv, _ in self.calls]


def test_every_container_of_the_template_is_found_once_with_its_repository():
    # Given the project's template / When its images are listed
    found = {image.name: image for image in containers(template())}

    # Then each container name maps to one ECR repository, shared by its task definitions
    assert {name: image.repository for name, image in found.items()} == {
        "algorithm_worker": "AlgorithmWorkerRepository",
        "frame_extractor": "FrameExtractorRepository",
        "grayscale": "GrayscaleRepository",
        "pacs_api": "PacsApiRepository",
        "yolo_stream": "YoloStreamRepository",
    }
    assert len(found["algorithm_worker"].task_definitions) == 3
    assert found["grayscale"].dockerfile == Path("containers/grayscale/Dockerfile")


def _task(name: str, image: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::ECS::TaskDefinition",
        "Properties": {"ContainerDefinitions": [{"Name": name, "Image": image}]},
    }


def _write(tmp_path: Path, resources: dict[str, Any]) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(json.dumps({"Resources": resources}))  # JSON is YAML
    return path


def test_an_image_not_from_a_template_repository_is_named_in_the_error(tmp_path):
    # Given a task definition whose image is a public image, not one of the stack's repositories
    path = _write(tmp_path, {"OddTask": _task("odd", "nginx:latest")})

    # When its images are listed / Then the error names the task, the container and the rule
    with pytest.raises(InventoryError, match=r"OddTask container 'odd': Image must be !Sub"):
        containers(template(path))


def test_one_container_name_pushed_to_two_repositories_is_an_error(tmp_path):
    # Given two task definitions that give the same container name different repositories
    repo = {"Type": "AWS::ECR::Repository"}
    path = _write(
        tmp_path,
        {
            "ARepository": repo,
            "BRepository": repo,
            "ATask": _task("worker", {"Fn::Sub": "${ARepository.RepositoryUri}:${ImageTag}"}),
            "BTask": _task("worker", {"Fn::Sub": ["${BRepository.RepositoryUri}:x", {}]}),
        },
    )

    # When its images are listed / Then the conflict is reported
    with pytest.raises(InventoryError, match="one name, one repository"):
        containers(template(path))


def test_build_command_targets_fargate_arm64_from_the_repository_root():
    # Given the grayscale image
    [grayscale] = images.select(containers(template()), ["grayscale"])

    # When its push command is made
    command = images.build_command(
        grayscale, "1.dkr.ecr.us-east-1.amazonaws.com/g:abc1234", push=True, build_args=["A=1"]
    )

    # Then it is one buildx build for linux/arm64 with the repo root as the context
    assert command == [
        "docker", "buildx", "build",
        "--platform", "linux/arm64",
        "--file", "containers/grayscale/Dockerfile",
        "--tag", "1.dkr.ecr.us-east-1.amazonaws.com/g:abc1234",
        "--provenance=false",
        "--build-arg", "A=1",
        "--push", ".",
    ]  # fmt: skip


def test_unknown_only_name_lists_the_known_ones():
    with pytest.raises(images.ImagesError, match="no container named nope; known: algorithm_"):
        images.select(containers(template()), ["nope"])


@pytest.mark.parametrize(("dirty", "tag"), [(False, "abc1234"), (True, "abc1234-dirty")])
def test_tag_is_the_git_revision_marked_dirty_when_the_tree_changed(dirty, tag):
    assert images.git_revision(Recorder(dirty=dirty)) == tag


def test_no_git_revision_asks_for_a_tag():
    with pytest.raises(images.ImagesError, match="pass --tag"):
        images.git_revision(Recorder(fail={"git rev-parse"}))


def test_without_docker_build_says_so_and_exits_2(monkeypatch, capsys):
    # Given a machine with no docker command
    monkeypatch.setattr(images.shutil, "which", lambda name: None)
    runner = Recorder()

    # When every image is to be built
    code = images.main(["build"], run=runner)

    # Then it exits 2 with a clear message, having run no docker command
    assert code == images.EXIT_NO_DOCKER
    err = capsys.readouterr().err
    assert "Docker is not installed" in err
    assert "Nothing was built or pushed" in err
    assert not [c for c in runner.commands() if c[0] == "docker"]


def test_a_stopped_docker_engine_exits_2_with_its_error(monkeypatch, capsys):
    # Given docker is installed but its engine does not answer
    monkeypatch.setattr(images.shutil, "which", lambda name: "/usr/bin/docker")

    # When images are built
    code = images.main(["build", "--tag", "t1"], run=Recorder(fail={"docker info"}))

    # Then the message says the engine is not reachable
    assert code == images.EXIT_NO_DOCKER
    assert "Docker engine is not reachable" in capsys.readouterr().err


def test_build_runs_one_local_build_per_image_and_prints_the_tag(monkeypatch, capsys):
    # Given a working Docker
    monkeypatch.setattr(images.shutil, "which", lambda name: "/usr/bin/docker")
    runner = Recorder()

    # When the images are built
    assert images.main(["build", "--only", "grayscale", "--only", "pacs_api"], run=runner) == 0

    # Then each is built and loaded locally under the git revision, and the tag is printed
    builds = [c for c in runner.commands() if c[:3] == ["docker", "buildx", "build"]]
    assert [b[b.index("--tag") + 1] for b in builds] == [
        "image-video-pipeline/grayscale:abc1234",
        "image-video-pipeline/pacs_api:abc1234",
    ]
    assert all(b[-2:] == ["--load", "."] for b in builds)
    assert (
        "deploy with: sam deploy --parameter-overrides ImageTag=abc1234" in capsys.readouterr().out
    )
