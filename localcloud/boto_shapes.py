"""CloudFormation properties -> boto3 parameters, through botocore's service model.

CloudFormation spells ECS, DynamoDB and ELB properties in PascalCase (``ContainerDefinitions``,
``KeySchema``); boto3 wants the API's own member names (``containerDefinitions``). Matching member
names case-insensitively against the operation's input shape converts whole property trees without
a hand-written table per resource type; properties the API does not know (CloudFormation-only ones)
are dropped and reported.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import botocore.session


@cache
def _service_model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


def to_boto(
    service: str, operation: str, properties: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The operation's parameters from ``properties``, and the property names it ignored."""
    shape = _service_model(service).operation_model(operation).input_shape
    dropped: list[str] = []
    return _convert(properties, shape, dropped, ""), dropped


def _convert(value: Any, shape: Any, dropped: list[str], path: str) -> Any:
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = {name.lower(): (name, member) for name, member in shape.members.items()}
        out: dict[str, Any] = {}
        for key, item in value.items():
            match = members.get(key.lower())
            if match is None:
                dropped.append(f"{path}{key}")
                continue
            name, member = match
            out[name] = _convert(item, member, dropped, f"{path}{key}.")
        return out
    if kind == "list" and isinstance(value, list):
        return [_convert(item, shape.member, dropped, path) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _convert(v, shape.value, dropped, path) for k, v in value.items()}
    if kind in ("integer", "long"):
        return int(value)
    if kind in ("float", "double"):
        return float(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if kind == "string" and isinstance(value, dict | list):
        return json.dumps(value)
    if kind == "string":
        return str(value)
    return value
