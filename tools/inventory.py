"""What template.yaml deploys, as the tools need it: functions with their code, and containers
with their ECR repository. The template is the only list; nothing here is declared twice."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localcloud.template import Template, load_template

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
_REPOSITORY_URI = re.compile(r"\$\{(\w+)\.RepositoryUri\}")


class InventoryError(ValueError):
    """The template names something the tools cannot map (say which resource and why)."""


@dataclass(frozen=True)
class FunctionCode:
    logical_id: str
    folder: str  # the CodeUri folder name under functions/
    code_uri: Path
    module: str
    handler: str


@dataclass(frozen=True)
class ContainerImage:
    name: str  # ContainerDefinitions Name == folder under containers/
    repository: str  # logical id of its AWS::ECR::Repository
    task_definitions: tuple[str, ...]

    @property
    def dockerfile(self) -> Path:
        return Path("containers") / self.name / "Dockerfile"


def template(path: Path = TEMPLATE) -> Template:
    return load_template(path)


def functions(tpl: Template) -> list[FunctionCode]:
    found = []
    for resource in tpl.of_type("AWS::Serverless::Function"):
        props = resource.properties
        code_uri, handler = props.get("CodeUri"), props.get("Handler")
        if not isinstance(code_uri, str) or not isinstance(handler, str) or "." not in handler:
            raise InventoryError(
                f"{resource.logical_id}: needs a literal CodeUri and a module.function Handler"
            )
        module, _, function = handler.rpartition(".")
        path = (tpl.root / code_uri).resolve()
        found.append(FunctionCode(resource.logical_id, path.name, path, module, function))
    return sorted(found, key=lambda f: f.logical_id)


def _repository_of(image: Any, where: str) -> str:
    # Fn::Sub is either a string or [string, {variables}]; only the string names the repository.
    sub = image.get("Fn::Sub") if isinstance(image, dict) else None
    text = sub[0] if isinstance(sub, list) else sub
    match = _REPOSITORY_URI.search(text) if isinstance(text, str) else None
    if not match:
        raise InventoryError(
            f"{where}: Image must be !Sub ${{<Repository>.RepositoryUri}}:${{ImageTag}}, "
            f"got {image!r}"
        )
    return match.group(1)


def containers(tpl: Template) -> list[ContainerImage]:
    """Every container of every task definition, once per name, with the repository it uses."""
    repositories: dict[str, str] = {}
    used_by: dict[str, list[str]] = {}
    for task in tpl.of_type("AWS::ECS::TaskDefinition"):
        for definition in task.properties.get("ContainerDefinitions") or []:
            name = definition.get("Name")
            where = f"{task.logical_id} container {name!r}"
            repository = _repository_of(definition.get("Image"), where)
            if tpl.resources.get(repository) is None or (
                tpl.resources[repository].type != "AWS::ECR::Repository"
            ):
                raise InventoryError(f"{where}: {repository} is not an AWS::ECR::Repository")
            if repositories.setdefault(name, repository) != repository:
                raise InventoryError(
                    f"{where}: uses {repository}, but another task definition pushes container "
                    f"{name!r} to {repositories[name]} (one name, one repository)"
                )
            used_by.setdefault(name, []).append(task.logical_id)
    return [
        ContainerImage(name, repositories[name], tuple(sorted(used_by[name])))
        for name in sorted(repositories)
    ]
