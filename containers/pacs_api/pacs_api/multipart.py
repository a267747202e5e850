"""``multipart/related`` (RFC 2387) as DICOMweb uses it: parsing STOW-RS request bodies, writing
WADO-RS responses, and reading what a client's ``Accept`` header asks for."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator

from pacs_api.errors import InvalidQuery, NotAcceptable, UnsupportedMediaType
from pipeline_common import multipart as shared
from pipeline_common.multipart import MediaRange, Part, parse_media_ranges

__all__ = ["MediaRange", "Part", "parse_media_ranges"]


def negotiate_multipart(accept: str | None, part_types: Iterable[str]) -> tuple[str, str | None]:
    """``(part media type, transfer-syntax or None)`` for a multipart retrieve. No Accept, ``*/*``
    or ``multipart/related`` without a type get the first of ``part_types``; 406 otherwise."""
    offered = list(part_types)
    ranges = parse_media_ranges(accept)
    if not ranges:
        return offered[0], None
    for media in ranges:
        if media.params.get("q") in ("0", "0.0", "0.00", "0.000"):
            continue
        if media.media_type in ("*/*", "multipart/*"):
            return offered[0], media.params.get("transfer-syntax")
        if media.media_type == "multipart/related":
            wanted = media.params.get("type", "").lower()
            if not wanted or wanted in ("*/*", "*"):
                return offered[0], media.params.get("transfer-syntax")
            if wanted in offered:
                return wanted, media.params.get("transfer-syntax")
        if media.media_type in offered:  # a single-part type asked for without multipart
            return media.media_type, media.params.get("transfer-syntax")
    raise NotAcceptable(
        f"none of the accepted media types can be served (offered: {', '.join(offered)})"
    )


def negotiate_single(
    accept: str | None, offered: list[str], query_accept: str | None = None
) -> str:
    """The media type of a single-part answer (``rendered``): the query's ``accept`` parameter
    first (PS3.18 8.3.3.1), then the header; the first offered type by default."""
    ranges = parse_media_ranges(query_accept) or parse_media_ranges(accept)
    if not ranges:
        return offered[0]
    for media in ranges:
        if media.media_type in ("*/*", "image/*"):
            return offered[0]
        if media.media_type in offered:
            return media.media_type
    raise NotAcceptable(
        f"none of the accepted media types can be served (offered: {', '.join(offered)})"
    )


def new_boundary() -> str:
    return f"pacs-{uuid.uuid4().hex}"


def multipart_content_type(boundary: str, part_type: str) -> str:
    return f'multipart/related; type="{part_type}"; boundary={boundary}'


def encode_part(
    boundary: str, content_type: str, body: bytes, location: str | None = None
) -> bytes:
    headers = f"--{boundary}\r\nContent-Type: {content_type}\r\n"
    if location:
        headers += f"Content-Location: {location}\r\n"
    return headers.encode() + b"\r\n" + body + b"\r\n"


def closing(boundary: str) -> bytes:
    return f"--{boundary}--\r\n".encode()


def encode_parts(boundary: str, parts: Iterable[tuple[str, bytes]]) -> Iterator[bytes]:
    for content_type, body in parts:
        yield encode_part(boundary, content_type, body)
    yield closing(boundary)


def request_boundary(content_type: str | None, expected_part_type: str) -> str:
    """The boundary of a ``multipart/related`` request body whose root type is the expected one."""
    ranges = parse_media_ranges(content_type)
    if not ranges or ranges[0].media_type != "multipart/related":
        raise UnsupportedMediaType(
            f'the body must be multipart/related; type="{expected_part_type}"'
        )
    params = ranges[0].params
    part_type = params.get("type", expected_part_type).lower()
    if part_type != expected_part_type:
        raise UnsupportedMediaType(
            f"only {expected_part_type} parts can be stored (type={part_type}); "
            "DICOM JSON and XML with bulk data are not supported"
        )
    boundary = params.get("boundary")
    if not boundary:
        raise InvalidQuery("the multipart body has no boundary")
    return boundary


def split_parts(body: bytes, boundary: str) -> list[Part]:
    try:
        return shared.split_parts(body, boundary)
    except ValueError as exc:
        raise InvalidQuery(str(exc)) from exc
