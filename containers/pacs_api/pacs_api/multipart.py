"""``multipart/related`` (RFC 2387) as DICOMweb uses it: parsing STOW-RS request bodies, writing
WADO-RS responses, and reading what a client's ``Accept`` header asks for."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pacs_api.errors import InvalidQuery, NotAcceptable, UnsupportedMediaType

_TOKEN_PARAM = re.compile(r';\s*([A-Za-z0-9_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*)')


@dataclass(frozen=True)
class MediaRange:
    media_type: str
    params: dict[str, str]


def parse_media_ranges(header: str | None) -> list[MediaRange]:
    """The media ranges of an Accept (or the one of a Content-Type) header, in order."""
    if not header:
        return []
    ranges = []
    for item in _split_outside_quotes(header, ","):
        item = item.strip()
        if not item:
            continue
        media_type = item.split(";", 1)[0].strip().lower()
        params = {
            name.lower(): value.strip('"')
            for name, value in _TOKEN_PARAM.findall(item[len(media_type) :])
        }
        ranges.append(MediaRange(media_type, params))
    return ranges


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


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


@dataclass(frozen=True)
class Part:
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


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
    """The parts of a multipart body (preamble and epilogue ignored)."""
    delimiter = b"--" + boundary.encode()
    start = body.find(delimiter)
    if start < 0 or (start > 0 and body[start - 2 : start] != b"\r\n"):
        raise InvalidQuery("the multipart body does not start with its boundary")
    parts: list[Part] = []
    position = start + len(delimiter)
    while True:
        if body[position : position + 2] == b"--":
            return parts  # the close delimiter
        line_end = body.find(b"\r\n", position)
        if line_end < 0:
            raise InvalidQuery("the multipart body ends inside a boundary line")
        content_start = line_end + 2
        next_delimiter = body.find(b"\r\n" + delimiter, content_start)
        if next_delimiter < 0:
            raise InvalidQuery("the multipart body is cut short (no closing boundary)")
        parts.append(_part(body[content_start:next_delimiter]))
        position = next_delimiter + 2 + len(delimiter)


def _part(raw: bytes) -> Part:
    if raw.startswith(b"\r\n"):
        return Part({}, raw[2:])
    head, separator, content = raw.partition(b"\r\n\r\n")
    if not separator:
        raise InvalidQuery("a multipart part has no header/body separator")
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").split("\r\n"):
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return Part(headers, content)
