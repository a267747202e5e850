"""Reading DynamoDB attribute maps (``{"S": ...}``, ``{"N": ...}``) and telling a refused
conditional write from a failure: what every table module needs and none should spell twice."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pipeline_common import aws

REFUSED = "ConditionalCheckFailedException"


def text(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name, {}).get("S")
    return str(value) if value is not None else None


def number(item: dict[str, Any], name: str) -> int | None:
    value = item.get(name, {}).get("N")
    return int(value) if value is not None else None


def flag(item: dict[str, Any], name: str) -> bool:
    return bool(item.get(name, {}).get("BOOL"))


def is_refusal(exc: ClientError) -> bool:
    """The write's condition did not hold (nothing was written); any other error is a failure."""
    return aws.error_code(exc) == REFUSED
