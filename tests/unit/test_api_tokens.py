"""pipeline_common.tokens: sign and verify WebSocket tokens."""

from __future__ import annotations

import pytest

from pipeline_common import tokens

KEY = b"unit-test-signing-key-32-bytes!!"
CLIENT = "3f2b9c1e8a7d4c6b9e0f1a2b3c4d5e6f"
NOW = 1_768_814_132


def test_a_token_verifies_for_its_client_until_it_expires():
    issued = tokens.sign(CLIENT, KEY, ttl_seconds=3600, now=NOW)

    assert issued.expires_at == NOW + 3600
    assert tokens.verify(CLIENT, issued.token, KEY, now=NOW + 3599) == NOW + 3600
    with pytest.raises(tokens.TokenError, match="expired"):
        tokens.verify(CLIENT, issued.token, KEY, now=NOW + 3600)


def test_a_token_is_url_safe():
    issued = tokens.sign(CLIENT, KEY, now=NOW)

    assert all(c.isalnum() or c in "._-" for c in issued.token)


@pytest.mark.parametrize(
    ("client_id", "key"),
    [("a" * 32, KEY), (CLIENT, b"another-signing-key-of-32-bytes!")],
    ids=["another client", "another key"],
)
def test_a_token_fails_for_another_client_or_key(client_id, key):
    issued = tokens.sign(CLIENT, KEY, now=NOW)

    with pytest.raises(tokens.TokenError, match="signature"):
        tokens.verify(client_id, issued.token, key, now=NOW)


def test_extending_the_expiry_breaks_the_signature():
    version, expiry, signature = tokens.sign(CLIENT, KEY, now=NOW).token.split(".")
    forged = f"{version}.{int(expiry) + 86400}.{signature}"

    with pytest.raises(tokens.TokenError, match="signature"):
        tokens.verify(CLIENT, forged, KEY, now=NOW)


@pytest.mark.parametrize("token", ["", "v1.abc.def", "v2.1.sig", "no-dots", "v1.1.2.3"])
def test_malformed_tokens_are_refused(token):
    with pytest.raises(tokens.TokenError):
        tokens.verify(CLIENT, token, KEY, now=NOW)


def test_a_short_key_cannot_sign():
    with pytest.raises(tokens.SigningKeyError):
        tokens.sign(CLIENT, b"short", now=NOW)
