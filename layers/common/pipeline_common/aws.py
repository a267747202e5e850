"""Cached boto3 clients.

Clients are created on first use, never at import time, so tests and the local cloud can set
``AWS_ENDPOINT_URL`` (and the region) before anything talks to AWS. boto3 reads the endpoint from
the environment itself: no code path here knows whether it runs on AWS or locally.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, signature_version="s3v4")


@cache
def client(service: str) -> Any:
    """A boto3 client for ``service`` shared by the whole process."""
    return boto3.client(service, config=_CONFIG)  # type: ignore[call-overload]


@cache
def resource(service: str) -> Any:
    return boto3.resource(service, config=_CONFIG)  # type: ignore[call-overload]


def clear_clients() -> None:
    """Forget every cached client (tests that switch endpoints or credentials call this)."""
    client.cache_clear()
    resource.cache_clear()


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ``ClientError`` (``NoSuchKey``, ``ConditionalCheckFailedException``
    ...); an empty string for anything else."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "")
    return ""


def string_attributes(**values: str) -> dict[str, dict[str, str]]:
    """SNS/SQS ``MessageAttributes`` of string values (what subscription filters match on)."""
    return {name: {"DataType": "String", "StringValue": value} for name, value in values.items()}
