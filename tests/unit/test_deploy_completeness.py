"""Everything template.yaml deploys has its code, its sample event, its Dockerfile and a test.

The lists come from the template itself (``tools.inventory``), so a function or container added to
the template without its parts fails here, naming exactly what is missing.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

from tools.inventory import ContainerImage, FunctionCode, containers, functions, template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = template()
FUNCTIONS = functions(TEMPLATE)
CONTAINERS = containers(TEMPLATE)
CONTAINER_FILES = ("Dockerfile", "README.md", "requirements.txt")


@cache
def project_tests() -> dict[Path, str]:
    """Every test module of the project except this one (which names everything)."""
    return {
        path.relative_to(ROOT): path.read_text(encoding="utf-8")
        for path in (ROOT / "tests").rglob("test_*.py")
        if path.resolve() != Path(__file__).resolve()
    }


def defines(module: Path, name: str) -> bool:
    tree = ast.parse(module.read_text(encoding="utf-8"), filename=str(module))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return True
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(target, ast.Name) and target.id == name for target in targets):
            return True
    return False


def files_naming(patterns: list[str]) -> list[Path]:
    found = re.compile("|".join(patterns))
    return sorted(path for path, text in project_tests().items() if found.search(text))


def test_the_template_deploys_functions_and_containers():
    # Given the project's template / When it is read / Then it names what the other tests check
    assert FUNCTIONS, "template.yaml declares no AWS::Serverless::Function"
    assert CONTAINERS, "template.yaml declares no task definition container"


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def missing_function_parts(function: FunctionCode) -> list[str]:
    problems = []
    module = function.code_uri / f"{function.module.replace('.', '/')}.py"
    if not function.code_uri.is_dir():
        problems.append(f"CodeUri folder {_shown(function.code_uri)}/ does not exist")
    elif not module.is_file():
        problems.append(f"handler module {_shown(module)} does not exist")
    elif not defines(module, function.handler):
        problems.append(f"{_shown(module)} defines no {function.handler}()")
    events = sorted((ROOT / "events").glob(f"{function.folder}_*.json"))
    if not events:
        problems.append(f"no sample event events/{function.folder}_<case>.json")
    name = re.escape(function.folder)
    tests = files_naming(
        [rf"load_function\(\s*[\"']{name}[\"']", rf"functions/{name}\b", rf"[\"']{name}[\"']"]
    )
    if not tests:
        problems.append(
            f"no test under tests/ loads it (load_function({function.folder!r}) or "
            f"functions/{function.folder})"
        )
    return problems


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.logical_id)
def test_function_has_code_event_and_test(function: FunctionCode):
    # Given a function of the template / When its parts are looked for
    problems = missing_function_parts(function)

    # Then nothing is missing
    assert not problems, f"{function.logical_id}: " + "; ".join(problems)


def _packages(folder: Path) -> list[str]:
    return sorted(p.parent.name for p in folder.glob("*/__init__.py"))


@pytest.mark.parametrize("image", CONTAINERS, ids=lambda c: c.name)
def test_container_has_dockerfile_readme_requirements_and_test(image: ContainerImage):
    # Given a container named in a task definition
    folder = ROOT / "containers" / image.name
    problems = []

    # When its parts are looked for
    if not folder.is_dir():
        problems.append(f"containers/{image.name}/ does not exist (ContainerDefinitions Name)")
    problems += [
        f"containers/{image.name}/{name} is missing"
        for name in CONTAINER_FILES
        if folder.is_dir() and not (folder / name).is_file()
    ]
    name = re.escape(image.name)
    patterns = [rf"[\"']{name}[\"']", rf"containers/{name}\b"]
    patterns += [rf"\b(?:from|import)\s+{re.escape(p)}\b" for p in _packages(folder)]
    if not files_naming(patterns):
        problems.append(f"no test under tests/ imports its code or names {image.name!r}")

    # Then nothing is missing
    where = ", ".join(image.task_definitions)
    assert not problems, f"container {image.name} ({where}): " + "; ".join(problems)


def test_a_missing_part_is_named_in_the_failure(tmp_path):
    # Given a template with a function whose folder, event and test do not exist
    (tmp_path / "template.yaml").write_text(
        "Resources:\n"
        "  GhostFunction:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: functions/ghost/, Handler: app.lambda_handler}\n"
    )
    [ghost] = functions(template(tmp_path / "template.yaml"))

    # When it is checked like the real ones
    message = "; ".join(missing_function_parts(ghost))

    # Then the message names each missing part
    assert f"CodeUri folder {tmp_path / 'functions' / 'ghost'}/ does not exist" in message
    assert "events/ghost_<case>.json" in message
    assert "load_function('ghost')" in message
