"""The opaque cursor of ``GET /results``: where a poll client is in its feed of finished jobs.

A cursor says what the client already has, never what it should get: repeating a request with
the same cursor returns the same results (none is deleted, nothing is consumed), so a lost
response costs nothing but the retry.

Inside (``v`` 1, JSON, zlib, base64url without padding):
- ``h``, the horizon: every completion whose ``completed_seq`` sorts at or below it was delivered
  (``""`` before the first result; a bare stamp or a full ``completed_seq``);
- ``r``, the recent ones: completions above the horizon already delivered. The horizon only
  moves to ``now - settle`` (ResultsProxySettings.results_settle_seconds), because a completion
  stamped just before a poll may become visible just after it (its writer's UpdateItem was in
  flight, the index had not caught up). Newer completions are returned at once and listed here
  instead, so the one that lands late is still found above the horizon, and none comes twice.

A cursor that is not one of ours (bad base64, not zlib, not this JSON, a key that is not a
``completed_seq``, too long) is a 400: it cannot be repaired, and guessing would skip or repeat
results. Nothing in it is secret or trusted for access: the feed read is the caller's own
client's, checked before the cursor is used.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from dataclasses import dataclass

from pipeline_common.result_feed import is_seq, is_stamp

VERSION = 1
#: Completions above the horizon a cursor remembers; past that, newer ones wait to settle.
MAX_RECENT = 50
MAX_CURSOR_CHARS = 4096
_MAX_JSON_BYTES = 16_384
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


class InvalidCursor(ValueError):
    """Not a cursor this API issued."""


@dataclass(frozen=True, slots=True)
class Cursor:
    horizon: str = ""
    recent: tuple[str, ...] = ()

    def encode(self) -> str:
        document = json.dumps(
            {"v": VERSION, "h": self.horizon, "r": list(self.recent)}, separators=(",", ":")
        )
        packed = zlib.compress(document.encode(), level=9)
        return base64.urlsafe_b64encode(packed).rstrip(b"=").decode()

    @classmethod
    def decode(cls, text: str) -> Cursor:
        if not text:
            return cls()
        if len(text) > MAX_CURSOR_CHARS or not _BASE64URL.fullmatch(text):
            raise InvalidCursor("not a cursor from this API (repeat the request with next_cursor)")
        try:
            packed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            inflater = zlib.decompressobj()
            raw = inflater.decompress(packed, _MAX_JSON_BYTES)
            if inflater.unconsumed_tail or not inflater.eof:
                raise InvalidCursor("not a cursor from this API (too large or truncated)")
            document = json.loads(raw)
        except (binascii.Error, zlib.error, UnicodeDecodeError, ValueError) as exc:
            if isinstance(exc, InvalidCursor):
                raise
            raise InvalidCursor("not a cursor from this API (cannot be read)") from exc
        return cls._validated(document)

    @classmethod
    def _validated(cls, document: object) -> Cursor:
        if not isinstance(document, dict) or set(document) != {"v", "h", "r"}:
            raise InvalidCursor("not a cursor from this API (wrong fields)")
        horizon, recent = document["h"], document["r"]
        if document["v"] != VERSION:
            raise InvalidCursor("a cursor of another version: start again without one")
        if not isinstance(horizon, str) or not (
            horizon == "" or is_stamp(horizon) or is_seq(horizon)
        ):
            raise InvalidCursor("not a cursor from this API (bad position)")
        if (
            not isinstance(recent, list)
            or len(recent) > MAX_RECENT
            or not all(isinstance(seq, str) and is_seq(seq) and seq > horizon for seq in recent)
            or len(set(recent)) != len(recent)
        ):
            raise InvalidCursor("not a cursor from this API (bad recent results)")
        return cls(horizon=horizon, recent=tuple(recent))
