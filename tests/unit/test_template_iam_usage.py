"""Every AWS call in functions/ and containers/ is allowed by its role, and every statement of a
role is used by some call (or by its service, for the few exceptions named below).

A static reading, by design small: the calls are the boto3 operations a code unit makes on the
clients it creates (``client("sqs")`` and the like; the layer's modules it imports count too);
the roles are SAM's generated ones (policy templates expanded by SAM's translator) and the
template's ``AWS::IAM::Role``s. Resources are not compared here: the e2e suite runs every call
against the real ARNs with IAM enforced. State machines' statements are checked against the
service integrations of their definitions.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from localcloud.iam import sam_roles
from localcloud.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
LAYER = ROOT / "layers" / "common" / "pipeline_common"

# Files whose calls are not the unit's role's, and why.
NOT_THE_ROLES_CALLS = {
    # The PACS seeding tool: the operator runs it with their own credentials to fill the bucket.
    "containers/pacs_api/pacs_api/seed.py",
}
# Statements used by the service on the role's behalf, not by the code, and why.
USED_BY_THE_SERVICE = {
    # Lambda sends a failed async event to the EventInvokeConfig OnFailure destination itself.
    "EventInvokeConfigOnFailureSQSPolicy",
    # ... and a stream batch that exhausted its retries to the event's OnFailure destination.
    "ClientRemovedSQSPolicy",
}
# Actions Lambda's event source mapping performs with the function's role (it reads the stream).
USED_BY_THE_EVENT_SOURCE = {
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
}
ROLES_USED_BY_THE_SERVICE = {
    # ECS's agent pulls the images and ships the logs: no code of ours runs as this role.
    "TaskExecutionRole",
    # API Gateway writes its account-level logs with it.
    "ApiGatewayCloudWatchRole",
    # The GPU container instances' ECS agent (AWS's managed AmazonEC2ContainerServiceforEC2Role).
    "YoloGpuInstanceRole",
}
# What a Step Functions service integration calls (AWS's documented policies for each).
INTEGRATIONS = {
    "arn:aws:states:::ecs:runTask.sync": {
        "ecs:RunTask",
        "ecs:StopTask",
        "ecs:DescribeTasks",
        "iam:PassRole",
        "events:PutTargets",
        "events:PutRule",
        "events:DescribeRule",
    },
    "arn:aws:states:::sqs:sendMessage": {"sqs:SendMessage"},
    "arn:aws:states:::dynamodb:updateItem": {"dynamodb:UpdateItem"},
}
# A state machine with Logging delivers its logs through CloudWatch Logs' vended-log actions.
LOG_DELIVERY = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}
# Methods that are not operations, or whose IAM action is not the operation's name.
S3_READS = ("s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket")
SPECIAL = {
    ("s3", "head_object"): ("s3:GetObject",),
    ("s3", "get_object"): ("s3:GetObject",),
    ("s3", "list_objects_v2"): ("s3:ListBucket",),
    ("s3", "list_object_versions"): ("s3:ListBucketVersions",),
    ("s3", "download_file"): ("s3:GetObject",),
    ("s3", "upload_file"): ("s3:PutObject",),
    ("s3", "generate_presigned_post"): ("s3:PutObject",),
    ("sqs", "delete_message_batch"): ("sqs:DeleteMessage",),
    ("sqs", "send_message_batch"): ("sqs:SendMessage",),
    ("apigatewaymanagementapi", "post_to_connection"): ("execute-api:ManageConnections",),
    ("apigatewaymanagementapi", "delete_connection"): ("execute-api:ManageConnections",),
}
# A read may also be authorized as these: a versioned read is s3:GetObjectVersion, and S3 needs
# s3:ListBucket to answer a missing key with 404 instead of 403.
ALSO_JUSTIFIES = {"s3:GetObject": S3_READS[1:]}


@cache
def _operations(service: str) -> dict[str, str]:
    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(name): name for name in model.operation_names}


@cache
def _prefix(service: str) -> str:
    model = botocore.session.get_session().get_service_model(service)
    return str(model.signing_name)


@dataclass
class CodeUnit:
    name: str  # logical id of the function or task role
    role: str  # logical id whose policies apply (SAM-generated or AWS::IAM::Role)
    folders: list[Path] = field(default_factory=list)

    def files(self) -> list[Path]:
        found: list[Path] = []
        for folder in self.folders:
            found += [
                path
                for path in sorted(folder.rglob("*.py"))
                if "tests" not in path.relative_to(ROOT).parts
                and str(path.relative_to(ROOT)) not in NOT_THE_ROLES_CALLS
            ]
        return found

    def names(self) -> set[str]:
        """Every identifier the unit's own code mentions (to find the layer functions it uses)."""
        found: set[str] = set()
        for path in self.files():
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Name):
                    found.add(node.id)
                elif isinstance(node, ast.Attribute):
                    found.add(node.attr)
                elif isinstance(node, ast.alias):
                    found.add(node.asname or node.name)
        return found


def code_units() -> list[CodeUnit]:
    units = []
    for function in TEMPLATE.of_type("AWS::Serverless::Function"):
        role = function.properties.get("Role")
        units.append(
            CodeUnit(
                function.logical_id,
                role["Fn::GetAtt"][0] if isinstance(role, dict) else function.logical_id,
                [ROOT / str(function.properties["CodeUri"])],
            )
        )
    by_role: dict[str, CodeUnit] = {}
    for definition in TEMPLATE.of_type("AWS::ECS::TaskDefinition"):
        role_ref = definition.properties.get("TaskRoleArn")
        if not role_ref:
            continue
        role = role_ref["Fn::GetAtt"][0]
        unit = by_role.setdefault(role, CodeUnit(role, role))
        for container in definition.properties["ContainerDefinitions"]:
            folder = ROOT / "containers" / container["Name"]
            if folder not in unit.folders:
                unit.folders.append(folder)
    return units + list(by_role.values())


_CLIENT = re.compile(r"client\(\s*[\"'](\w+)[\"']")


def _layer_functions(used: set[str]) -> list[tuple[Path, ast.AST]]:
    """The layer's top-level functions the unit calls, and those they call in turn: in their own
    module, or imported from another layer module (``pipeline_common.tables`` holds the calls
    that ``job_endings`` and the like make)."""
    modules = {path: ast.parse(path.read_text()) for path in sorted(LAYER.rglob("*.py"))}
    defined = {
        path: {
            node.name: node
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.ClassDef)
        }
        for path, tree in modules.items()
    }
    imported = {path: _layer_imports(tree) for path, tree in modules.items()}
    pending = [(path, name) for path in modules for name in defined[path] if name in used]
    seen: set[tuple[Path, str]] = set()
    found = []
    while pending:
        path, name = pending.pop()
        if (path, name) in seen:
            continue
        seen.add((path, name))
        found.append((path, defined[path][name]))
        for node in ast.walk(defined[path][name]):
            if not isinstance(node, ast.Name):
                continue
            if node.id in defined[path]:
                pending.append((path, node.id))
            elif node.id in imported[path]:
                source, original = imported[path][node.id]
                if original in defined.get(source, {}):
                    pending.append((source, original))
    return found


def _layer_imports(tree: ast.Module) -> dict[str, tuple[Path, str]]:
    """``{local name: (layer module file, name there)}`` of a module's ``from pipeline_common.x
    import name`` statements."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pipeline_common."):
            source = LAYER.joinpath(*node.module.split(".")[1:]).with_suffix(".py")
            for alias in node.names:
                found[alias.asname or alias.name] = (source, alias.name)
    return found


_CALLS: dict[str, dict[str, set[str]]] = {}


def calls(unit: CodeUnit) -> dict[str, set[str]]:
    """``{IAM action: {"file:line", ...}}`` for the unit's boto3 calls."""
    if unit.name not in _CALLS:
        _CALLS[unit.name] = _read_calls(unit)
    return _CALLS[unit.name]


def _read_calls(unit: CodeUnit) -> dict[str, set[str]]:
    own = [(path, ast.parse(path.read_text())) for path in unit.files()]
    # Clients are created in one module and handed to others (constructor injection).
    services = {s for path in unit.files() for s in _CLIENT.findall(path.read_text())}
    used = _layer_functions(unit.names())
    # Within the layer too, one function makes the client and another calls it.
    layer_services = {s for _, tree in used for s in _CLIENT.findall(ast.unparse(tree))}
    layer = [(path, tree, layer_services) for path, tree in used]
    # ...and a client the layer makes (websocket_stage.management_client) is called by the unit.
    own_services = services | layer_services
    found: dict[str, set[str]] = {}
    for path, tree, tree_services in [(p, t, own_services) for p, t in own] + layer:
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            method = node.func.attr
            literal = (
                node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
            )
            keywords = {k.arg for k in node.keywords}
            for service in tree_services:
                actions = _actions(service, method, literal)
                if (service, method) == ("sqs", "create_queue") and "tags" in keywords:
                    actions += ("sqs:TagQueue",)  # tags at creation need sqs:TagQueue too
                for action in actions:
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    found.setdefault(action, set()).add(where)
    return found


def _actions(service: str, method: str, literal: Any) -> tuple[str, ...]:
    if (service, method) in SPECIAL:
        return SPECIAL[(service, method)]
    if method in ("get_paginator", "generate_presigned_url") and isinstance(literal, str):
        method = literal
        if (service, method) in SPECIAL:
            return SPECIAL[(service, method)]
    operation = _operations(service).get(method)
    return (f"{_prefix(service)}:{operation}",) if operation else ()


@cache
def generated_roles() -> dict[str, dict[str, Any]]:
    return sam_roles(ROOT / "template.yaml")


def statements(role: str) -> list[tuple[str, dict[str, Any]]]:
    """``(policy name, statement)`` of a role: SAM's generated one, or the template's."""
    if role in generated_roles():
        policies = generated_roles()[role].get("Policies", [])
    else:
        policies = TEMPLATE.resources[role].properties.get("Policies", [])
    found = []
    for policy in policies:
        listed = policy["PolicyDocument"]["Statement"]
        for statement in listed if isinstance(listed, list) else [listed]:
            found.append((policy["PolicyName"], statement))
    return found


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def allows(role: str, action: str) -> bool:
    return any(
        statement["Effect"] == "Allow"
        and any(fnmatch.fnmatchcase(action, pattern) for pattern in _listed(statement["Action"]))
        for _, statement in statements(role)
    )


UNITS = code_units()


def test_every_function_and_task_role_is_read():
    # Given the template / When its code units are listed
    names = {unit.name for unit in UNITS}

    # Then every function and every task role with code is there, each with some call
    assert {f.logical_id for f in TEMPLATE.of_type("AWS::Serverless::Function")} <= names
    assert {"GrayscaleTaskRole", "YoloStreamTaskRole", "AlgorithmWorkerTaskRole"} <= names
    assert all(unit.files() for unit in UNITS)


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_every_call_is_allowed_by_a_statement_of_its_role(unit: CodeUnit):
    # Given the unit's boto3 calls
    made = calls(unit)

    # When each is looked up in its role's statements
    missing = {
        action: sorted(where) for action, where in made.items() if not allows(unit.role, action)
    }

    # Then each has a statement that allows it
    assert not missing, f"{unit.name}: calls its role ({unit.role}) does not allow: {missing}"


def _justified(made: set[str]) -> set[str]:
    found = set(made)
    for action in made:
        found |= set(ALSO_JUSTIFIES.get(action, ()))
    return found


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_every_statement_of_a_role_is_used_by_its_code(unit: CodeUnit):
    # Given the actions the unit's calls need (with every unit sharing the role)
    made = set()
    for other in UNITS:
        if other.role == unit.role:
            made |= set(calls(other))
    justified = _justified(made)

    # When every action of every statement of the role is matched against them
    unused = []
    for policy, statement in statements(unit.role):
        if any(policy.endswith(name) for name in USED_BY_THE_SERVICE):
            continue
        for pattern in _listed(statement["Action"]):
            if pattern in USED_BY_THE_EVENT_SOURCE:
                continue
            if not any(fnmatch.fnmatchcase(action, pattern) for action in justified):
                unused.append(f"{policy}: {pattern}")

    # Then none is granted for nothing
    assert not unused, f"{unit.role} grants what no call of {unit.name} uses: {unused}"


@pytest.mark.parametrize(
    "machine",
    list(TEMPLATE.of_type("AWS::Serverless::StateMachine")),
    ids=lambda m: m.logical_id,
)
def test_a_state_machine_role_grants_what_its_integrations_and_logging_use(machine: Any):
    # Given the service integrations its definition calls (and log delivery when it logs)
    definition = json.loads((ROOT / machine.properties["DefinitionUri"]).read_text())
    resources = set(re.findall(r'"Resource":\s*"([^"]+)"', json.dumps(definition)))
    needed = set().union(*(INTEGRATIONS[r] for r in resources if r in INTEGRATIONS))
    if machine.properties.get("Logging"):
        needed |= LOG_DELIVERY
    unknown = [r for r in resources if r.startswith("arn:aws:states:::") and r not in INTEGRATIONS]

    # When its role's statements are read
    granted = {a for _, s in statements(machine.logical_id) for a in _listed(s["Action"])}

    # Then it grants exactly those
    assert not unknown, f"integrations this test does not know yet: {unknown}"
    assert needed <= granted, f"missing: {sorted(needed - granted)}"
    assert granted <= needed, f"granted for nothing: {sorted(granted - needed)}"


def test_roles_that_only_a_service_uses_are_named():
    # Given the template's roles
    roles = {r.logical_id for r in TEMPLATE.of_type("AWS::IAM::Role")}

    # When the roles some code runs as are removed
    unaccounted = roles - {unit.role for unit in UNITS} - ROLES_USED_BY_THE_SERVICE

    # Then what is left is one of the named service roles
    assert not unaccounted, f"roles no code runs as and no exception names: {unaccounted}"
