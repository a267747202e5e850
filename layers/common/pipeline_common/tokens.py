"""Signed, expiring client tokens for the WebSocket API.

A token is ``v1.<expiry>.<signature>``: ``expiry`` is a Unix time in seconds and ``signature`` is
the URL-safe base64 (unpadded) HMAC-SHA256 of ``"v1.<client_id>.<expiry>"`` under a key kept in
Secrets Manager. The client id is not inside the token: the client presents both, so a token
stolen for one client cannot be replayed as another. Everything is URL-safe, because the token
travels in the ``$connect`` query string.

The provisioner signs, the WebSocket authorizer verifies; the key is read through
``signing_key(secret_arn)``, cached for a few minutes so a rotated secret is picked up without a
cold start.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

from pipeline_common import aws

TOKEN_VERSION = "v1"  # noqa: S105 (a format tag, not a secret)
DEFAULT_TOKEN_TTL_SECONDS = 24 * 3600
_KEY_CACHE_SECONDS = 300.0
_MIN_KEY_BYTES = 16


class TokenError(ValueError):
    """A token that must not be accepted; the message says why (safe to log, never the token)."""


class SigningKeyError(RuntimeError):
    """The signing secret is missing or too weak to sign anything."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _signature(key: bytes, client_id: str, expires_at: int) -> str:
    message = f"{TOKEN_VERSION}.{client_id}.{expires_at}".encode()
    return _b64(hmac.new(key, message, hashlib.sha256).digest())


def sign(
    client_id: str,
    key: bytes,
    *,
    ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS,
    now: float | None = None,
) -> IssuedToken:
    """A token for ``client_id`` that expires ``ttl_seconds`` from ``now``."""
    if len(key) < _MIN_KEY_BYTES:
        raise SigningKeyError(f"the signing key must be at least {_MIN_KEY_BYTES} bytes")
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    expires_at = int(now if now is not None else time.time()) + ttl_seconds
    return IssuedToken(
        token=f"{TOKEN_VERSION}.{expires_at}.{_signature(key, client_id, expires_at)}",
        expires_at=expires_at,
    )


def verify(client_id: str, token: str, key: bytes, *, now: float | None = None) -> int:
    """Return the token's expiry if it was signed for ``client_id`` and has not expired.

    Raises ``TokenError`` otherwise. The signature is compared in constant time.
    """
    if not client_id or not token:
        raise TokenError("client_id and token are both required")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != TOKEN_VERSION or not parts[1].isdigit():
        raise TokenError("malformed token")
    expires_at = int(parts[1])
    expected = _signature(key, client_id, expires_at)
    if not hmac.compare_digest(expected.encode(), parts[2].encode()):
        raise TokenError("bad signature")
    # Checked after the signature so an attacker learns nothing from forged expiries.
    if expires_at <= (now if now is not None else time.time()):
        raise TokenError("token expired")
    return expires_at


_key_cache: dict[str, tuple[float, bytes]] = {}


def signing_key(secret_arn: str) -> bytes:
    """The HMAC key stored as the SecretString of ``secret_arn``, cached for a few minutes."""
    cached = _key_cache.get(secret_arn)
    if cached and time.monotonic() - cached[0] < _KEY_CACHE_SECONDS:
        return cached[1]
    secret = aws.client("secretsmanager").get_secret_value(SecretId=secret_arn)
    value = secret.get("SecretString")
    if not value:
        raise SigningKeyError(f"secret {secret_arn} has no SecretString")
    key = value.encode()
    if len(key) < _MIN_KEY_BYTES:
        raise SigningKeyError(f"secret {secret_arn} is shorter than {_MIN_KEY_BYTES} bytes")
    _key_cache[secret_arn] = (time.monotonic(), key)
    return key


def forget_signing_keys() -> None:
    """Drop cached keys (tests that create a new secret call this)."""
    _key_cache.clear()
