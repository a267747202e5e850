"""Build every container image of template.yaml and push it to its ECR repository.

    python -m tools.images build [--tag REV] [--only NAME ...]
    python -m tools.images push --stack-name X [--tag REV] [--only NAME ...] [--region R]

Images are found in the template (each task definition's container -> its ECR repository), built
for Fargate's ARM64 with ``docker buildx`` from the repository root, tagged with the git revision
(``-dirty`` when the work tree has changes) and, for ``push``, sent to the repository URI that the
deployed stack reports. The tag to deploy with is printed last: ``sam deploy --parameter-overrides
ImageTag=<tag>``. Without a Docker engine the command says so and exits 2.
"""

from __future__ import annotations

import argparse
import base64
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from tools.inventory import ROOT, ContainerImage, InventoryError, containers, template

PLATFORM = "linux/arm64"  # the task definitions' RuntimePlatform: ARM64 (Graviton)
EXIT_NO_DOCKER = 2
LOCAL_REPOSITORY_PREFIX = "image-video-pipeline"

Runner = Callable[..., subprocess.CompletedProcess[str]]


class ImagesError(RuntimeError):
    """A clear reason the images cannot be built or pushed; ``exit_code`` says how to exit."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _run(argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), text=True, check=False, **kwargs)


# ---- what to build, and what to call it ----------------------------------------------------------


def select(images: list[ContainerImage], only: Sequence[str] | None) -> list[ContainerImage]:
    if not only:
        return images
    known = {image.name for image in images}
    unknown = sorted(set(only) - known)
    if unknown:
        raise ImagesError(
            f"no container named {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return [image for image in images if image.name in only]


def git_revision(run: Runner = _run, cwd: Path = ROOT) -> str:
    """``git rev-parse --short HEAD``, with ``-dirty`` when tracked or new files changed."""
    head = run(["git", "rev-parse", "--short", "HEAD"], cwd=cwd, capture_output=True)
    if head.returncode != 0:
        raise ImagesError(f"cannot read the git revision ({head.stderr.strip()}); pass --tag")
    status = run(["git", "status", "--porcelain"], cwd=cwd, capture_output=True)
    dirty = status.returncode != 0 or bool(status.stdout.strip())
    return head.stdout.strip() + ("-dirty" if dirty else "")


def build_command(
    image: ContainerImage, reference: str, *, push: bool, build_args: Sequence[str] = ()
) -> list[str]:
    """The ``docker buildx build`` line for one image (build context: the repository root)."""
    argv = [
        "docker", "buildx", "build",
        "--platform", PLATFORM,
        "--file", str(image.dockerfile),
        "--tag", reference,
        # A plain image manifest: provenance attestations make ECR list an extra "unknown" image.
        "--provenance=false",
    ]  # fmt: skip
    for build_arg in build_args:
        argv += ["--build-arg", build_arg]
    argv.append("--push" if push else "--load")
    argv.append(".")
    return argv


def local_reference(image: ContainerImage, tag: str) -> str:
    return f"{LOCAL_REPOSITORY_PREFIX}/{image.name}:{tag}"


# ---- Docker -----------------------------------------------------------------------------------


def require_docker(run: Runner = _run) -> None:
    """Fail with a clear message (exit 2) unless a Docker engine and buildx answer."""
    if shutil.which("docker") is None:
        raise ImagesError(
            "Docker is not installed (no `docker` on PATH). Building the container images needs a "
            "Docker engine with buildx: install Docker Desktop or Docker Engine, or run this on a "
            "machine (or CI runner) that has one. Nothing was built or pushed.",
            EXIT_NO_DOCKER,
        )
    info = run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True)
    if info.returncode != 0:
        raise ImagesError(
            "the Docker engine is not reachable (`docker info` failed: "
            f"{(info.stderr or info.stdout).strip()[:300]}). Start it and try again. "
            "Nothing was built or pushed.",
            EXIT_NO_DOCKER,
        )
    buildx = run(["docker", "buildx", "version"], capture_output=True)
    if buildx.returncode != 0:
        raise ImagesError(
            "docker buildx is missing: it builds the linux/arm64 images (install the buildx "
            "plugin; on x86 hosts also QEMU binfmt: `docker run --privileged --rm "
            "tonistiigi/binfmt --install arm64`). Nothing was built or pushed.",
            EXIT_NO_DOCKER,
        )


# ---- ECR --------------------------------------------------------------------------------------


def repository_uris(
    cloudformation: Any,
    ecr: Any,
    stack_name: str,
    repositories: Sequence[str],
    outputs_of: dict[str, str],
) -> dict[str, str]:
    """Repository logical id -> URI, from the stack's outputs, else from its resources."""
    try:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    except ClientError as exc:
        raise ImagesError(
            f"cannot read stack {stack_name!r}: {exc.response.get('Error', {}).get('Message', exc)}"
            " (deploy it first: the ECR repositories are part of the stack)"
        ) from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}
    uris = {
        repo: outputs[outputs_of[repo]]
        for repo in repositories
        if repo in outputs_of and outputs_of[repo] in outputs
    }
    missing = [repo for repo in repositories if repo not in uris]
    if missing:
        names: dict[str, str] = {}
        for repo in missing:
            try:
                resource = cloudformation.describe_stack_resource(
                    StackName=stack_name, LogicalResourceId=repo
                )["StackResourceDetail"]
            except ClientError as exc:
                raise ImagesError(f"stack {stack_name!r} has no resource {repo}") from exc
            names[repo] = resource["PhysicalResourceId"]
        found = ecr.describe_repositories(repositoryNames=list(names.values()))["repositories"]
        by_name = {r["repositoryName"]: r["repositoryUri"] for r in found}
        uris.update({repo: by_name[name] for repo, name in names.items()})
    return uris


def repository_outputs(tpl: Any) -> dict[str, str]:
    """Repository logical id -> the output whose value is its ``RepositoryUri``."""
    found = {}
    for name, output in tpl.outputs.items():
        value = output.get("Value") if isinstance(output, dict) else None
        attribute = value.get("Fn::GetAtt") if isinstance(value, dict) else None
        if isinstance(attribute, list) and attribute[1:] == ["RepositoryUri"]:
            found[attribute[0]] = name
    return found


def docker_login(ecr: Any, run: Runner = _run) -> list[str]:
    """Log Docker in to the account's registry with a token from boto3 (password on stdin)."""
    data = ecr.get_authorization_token()["authorizationData"]
    registries = []
    for entry in data:
        user, _, password = base64.b64decode(entry["authorizationToken"]).decode().partition(":")
        registry = entry["proxyEndpoint"].removeprefix("https://")
        login = run(
            ["docker", "login", "--username", user, "--password-stdin", registry],
            input=password,
            capture_output=True,
        )
        if login.returncode != 0:
            raise ImagesError(f"docker login to {registry} failed: {login.stderr.strip()[:300]}")
        registries.append(registry)
    return registries


# ---- the command ------------------------------------------------------------------------------


def already_pushed(ecr: Any, uri: str, tag: str) -> bool:
    """Whether ``tag`` is in the repository (IMMUTABLE tags: a pushed tag cannot be replaced)."""
    repository = uri.partition("/")[2]
    try:
        found = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ImageNotFoundException":
            return False
        raise
    return bool(found.get("imageDetails"))


@dataclass(frozen=True)
class Plan:
    tag: str
    steps: list[tuple[ContainerImage, str, list[str]]]  # image, reference, docker command


def plan(
    images: list[ContainerImage], tag: str, uris: dict[str, str] | None, build_args: Sequence[str]
) -> Plan:
    steps = []
    for image in images:
        reference = (
            f"{uris[image.repository]}:{tag}" if uris is not None else local_reference(image, tag)
        )
        command = build_command(image, reference, push=uris is not None, build_args=build_args)
        steps.append((image, reference, command))
    return Plan(tag, steps)


def _not_yet_pushed(
    ecr: Any, images: list[ContainerImage], uris: dict[str, str], tag: str
) -> list[ContainerImage]:
    """A clean revision already pushed is the same image: skip it. A dirty tree's tag is not."""
    remaining = []
    for image in images:
        if not already_pushed(ecr, uris[image.repository], tag):
            remaining.append(image)
        elif tag.endswith("-dirty"):
            raise ImagesError(
                f"{uris[image.repository]}:{tag} exists and image tags are immutable: commit your "
                "changes (a new revision, a new tag) or pass --tag with a new name"
            )
        else:
            print(f"==> {image.name}: {tag} already in {uris[image.repository]}, skipped")
    return remaining


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.images", description=__doc__.split("\n")[0]
    )
    parser.add_argument("action", choices=["build", "push", "list"])
    parser.add_argument("--tag", help="image tag (default: the git revision, -dirty if changed)")
    parser.add_argument(
        "--stack-name", help="deployed stack whose ECR repositories receive the push"
    )
    parser.add_argument("--region")
    parser.add_argument("--profile")
    parser.add_argument("--only", action="append", metavar="NAME", help="a container (repeatable)")
    parser.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--dry-run", action="store_true", help="print the docker commands only")
    args = parser.parse_args(argv)
    if args.action == "push" and not args.stack_name:
        parser.error("push needs --stack-name (the stack that owns the ECR repositories)")
    return args


def main(argv: list[str] | None = None, run: Runner = _run) -> int:
    args = parse_args(argv)
    try:
        tpl = template()
        images = select(containers(tpl), args.only)
        if args.action == "list":
            for image in images:
                print(
                    f"{image.name}\t{image.dockerfile}\t{image.repository}\t{','.join(image.task_definitions)}"
                )
            return 0
        tag = args.tag or git_revision(run)
        uris = None
        ecr = None
        if args.action == "push":
            session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
            ecr = session.client("ecr")
            uris = repository_uris(
                session.client("cloudformation"),
                ecr,
                args.stack_name,
                sorted({image.repository for image in images}),
                repository_outputs(tpl),
            )
        if ecr is not None and uris is not None:
            images = _not_yet_pushed(ecr, images, uris, tag)
        work = plan(images, tag, uris, args.build_arg)
        if args.dry_run:
            for _, _, command in work.steps:
                print(" ".join(command))
            return 0
        require_docker(run)
        if ecr is not None:
            docker_login(ecr, run)
        for image, reference, command in work.steps:
            print(f"==> {image.name}: {reference}", flush=True)
            if run(command, cwd=ROOT).returncode != 0:
                raise ImagesError(f"building {image.name} failed (see the docker output above)")
    except (ImagesError, InventoryError, BotoCoreError) as exc:
        print(f"images: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)
    done = "pushed" if args.action == "push" else "built"
    print(f"{done} {len(work.steps)} image(s) with tag {tag}")
    print(f"deploy with: sam deploy --parameter-overrides ImageTag={tag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
