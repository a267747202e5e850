"""Identifier checks: every id reaches S3 only after passing the shared contract's pattern."""

from __future__ import annotations

from pacs_api.errors import InvalidIdentifier
from pipeline_common.contracts.jobs import validate_identifier

# Percent-encodings that can smuggle a path separator, a NUL or a second decoding pass.
_FORBIDDEN_RAW = (b"%2f", b"%5c", b"%00", b"%25")


def checked_id(kind: str, value: str) -> str:
    try:
        return validate_identifier(value)
    except ValueError as exc:
        raise InvalidIdentifier(f"invalid {kind} id: {exc}") from exc


def is_identifier(value: str) -> bool:
    """Whether ``value`` passes the pattern (for ids from a query, where a bad one is not an
    error: it just cannot name a stored instance)."""
    try:
        validate_identifier(value)
    except ValueError:
        return False
    return True


def raw_path_problem(raw_path: bytes, path: str) -> str | None:
    """Why a request path is refused before routing, or None when it is acceptable.

    The router only ever sees the decoded path, where ``..%2F`` has become ``../``: checking the
    raw bytes too is what turns encoded traversal into a 400 instead of a confusing 404.
    """
    lowered = raw_path.lower()
    if any(token in lowered for token in _FORBIDDEN_RAW):
        return "encoded '/', '\\', '%' or NUL characters are not allowed in a path"
    if "\\" in path or "\x00" in path:
        return "'\\' and NUL characters are not allowed in a path"
    if any(segment in (".", "..") for segment in path.split("/")):
        return "'.' and '..' path segments are not allowed"
    return None
