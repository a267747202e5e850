"""Execution names and correlation ids derived from what S3 announced, never from the invocation:
a redelivered notification (or a retried invocation) gets the same name, so Step Functions
answers ``ExecutionAlreadyExists`` and nothing is started twice.

Step Functions names hold at most 80 characters, and some characters (spaces, brackets,
wildcards, control characters, non-ASCII in CloudWatch) are refused or break log queries: a
name is a short lower-case prefix and a SHA-256 in hex, whatever the key holds.
"""

from __future__ import annotations

import hashlib
import re

MAX_NAME_LENGTH = 80
_DIGEST_LENGTH = 64
_PREFIX = re.compile(r"[a-z][a-z0-9-]*-\Z")
_MAX_PREFIX_LENGTH = MAX_NAME_LENGTH - _DIGEST_LENGTH


def _named(prefix: str, text: str) -> str:
    if len(prefix) > _MAX_PREFIX_LENGTH or not _PREFIX.match(prefix):
        raise ValueError(f"name prefix {prefix!r}: [a-z][a-z0-9-]*- of at most 16 characters")
    return prefix + hashlib.sha256(text.encode("utf-8")).hexdigest()


def object_id(prefix: str, bucket: str, key: str, version_id: str | None, etag: str | None) -> str:
    """The id of one object version: its execution name and the correlation id of every message
    about it. The version id names the version; an unversioned bucket's objects are told apart
    by ETag (their content)."""
    version = f"version:{version_id}" if version_id else f"etag:{etag}"
    return _named(prefix, "\n".join((bucket, key, version)))


def batch_name(prefix: str, object_ids: list[str]) -> str:
    """The name of one execution for several objects: the same set of objects, in any order and
    with repeats, gives the same name, so the same batch delivered again starts nothing new."""
    return _named(prefix, "\n".join(sorted(set(object_ids))))
