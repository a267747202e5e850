"""DynamoDB tables for tests, created from ``template.yaml``'s own declaration of each (keys,
attributes, GSIs), so a test cannot pass against a schema the stack does not have."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[2]


@cache
def _template_resources() -> dict[str, Any]:
    """template.yaml's resources, parsed once per test session (parsing takes most of a second)."""
    from localcloud.template import load_yaml

    resources: dict[str, Any] = load_yaml(ROOT / "template.yaml")["Resources"]
    return resources


def create_table(logical_id: str, name: str | None = None) -> str:
    """The table ``logical_id`` of template.yaml, named ``name`` (its logical id unless told),
    in whatever ``AWS_ENDPOINT_URL`` (or moto) points at; returns its name."""
    properties = copy.deepcopy(_template_resources()[logical_id]["Properties"])
    arguments: dict[str, Any] = {
        "TableName": name or logical_id,
        "BillingMode": properties.get("BillingMode", "PAY_PER_REQUEST"),
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
    }
    if properties.get("GlobalSecondaryIndexes"):
        arguments["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
    boto3.client("dynamodb").create_table(**arguments)
    return str(arguments["TableName"])
