"""``multipart/related`` (RFC 2387) bodies as DICOMweb carries them, parsed the same way by the
PACS API (STOW-RS requests) and the algorithm workers (WADO-RS answers). Pure Python, no I/O;
malformed input raises ``ValueError`` with a reason."""

from __future__ import annotations

import re
from dataclasses import dataclass

_PARAM = re.compile(r';\s*([A-Za-z0-9_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*)')


@dataclass(frozen=True)
class MediaRange:
    media_type: str
    params: dict[str, str]


@dataclass(frozen=True)
class Part:
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def parse_media_ranges(header: str | None) -> list[MediaRange]:
    """The media ranges of an Accept header (or the one of a Content-Type), in order."""
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
            for name, value in _PARAM.findall(item[len(media_type) :])
        }
        ranges.append(MediaRange(media_type, params))
    return ranges


def boundary_of(content_type: str | None) -> str:
    ranges = parse_media_ranges(content_type)
    if not ranges or not ranges[0].media_type.startswith("multipart/"):
        raise ValueError(f"not a multipart body ({content_type or 'no Content-Type'})")
    boundary = ranges[0].params.get("boundary")
    if not boundary:
        raise ValueError("the multipart body has no boundary")
    return boundary


def split_parts(body: bytes, boundary: str) -> list[Part]:
    """The parts of a multipart body (preamble and epilogue ignored)."""
    delimiter = b"--" + boundary.encode()
    start = body.find(delimiter)
    if start < 0 or (start > 0 and body[start - 2 : start] != b"\r\n"):
        raise ValueError("the multipart body does not start with its boundary")
    parts: list[Part] = []
    position = start + len(delimiter)
    while True:
        if body[position : position + 2] == b"--":
            return parts  # the close delimiter
        line_end = body.find(b"\r\n", position)
        if line_end < 0:
            raise ValueError("the multipart body ends inside a boundary line")
        content_start = line_end + 2
        next_delimiter = body.find(b"\r\n" + delimiter, content_start)
        if next_delimiter < 0:
            raise ValueError("the multipart body is cut short (no closing boundary)")
        parts.append(_part(body[content_start:next_delimiter]))
        position = next_delimiter + 2 + len(delimiter)


def _part(raw: bytes) -> Part:
    if raw.startswith(b"\r\n"):
        return Part({}, raw[2:])
    head, separator, content = raw.partition(b"\r\n\r\n")
    if not separator:
        raise ValueError("a multipart part has no header/body separator")
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").split("\r\n"):
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return Part(headers, content)


def encode(parts: list[tuple[str, bytes]], boundary: str) -> bytes:
    """A multipart body of ``(content type, bytes)`` parts."""
    chunks = [
        f"--{boundary}\r\nContent-Type: {content_type}\r\n\r\n".encode() + body + b"\r\n"
        for content_type, body in parts
    ]
    return b"".join(chunks) + f"--{boundary}--\r\n".encode()


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
