"""Token authorizers that API Gateway runs itself, before any integration: the REST API's Cognito
user pool authorizer (``COGNITO_USER_POOLS``) and the HTTP API's JWT authorizer.

Both check what API Gateway checks, in an order that never trusts an unverified claim for more
than picking the key set: the token is a JWS signed with RS256 by a key of its issuer's JWKS
(``kid``), the issuer is one the authorizer names, the audience (or, for HTTP APIs, ``client_id``)
is one it accepts, and ``exp``/``nbf`` hold. A failure is ``TokenRejected``, a 401 whose message
is API Gateway's: ``Unauthorized``, or ``The incoming token has expired`` for an expired token on
a REST API. What neither checks (here or on AWS): revocation (``GlobalSignOut``,
``RevokeToken``), and here also OAuth scopes.

Key sets are fetched over HTTP and cached per URL. A Cognito issuer
(``https://cognito-idp.{region}.amazonaws.com/{pool id}``) is mapped to moto's server, which
serves every pool's JWKS at ``{endpoint}/{pool id}/.well-known/jwks.json``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt

logger = logging.getLogger("localcloud.gateway")

UNAUTHORIZED = "Unauthorized"
EXPIRED = "The incoming token has expired"
_COGNITO_ISSUER = re.compile(r"^https://cognito-idp\.([a-z0-9-]+)\.amazonaws\.com/([\w-]+)$")
_POOL_ARN = re.compile(r"^arn:aws[\w-]*:cognito-idp:([a-z0-9-]+):\d*:userpool/([\w-]+)$")
_HEADER_SOURCE = "$request.header."
_REST_DATE_CLAIMS = frozenset({"exp", "iat"})

Fetch = Callable[[str], Any]


class TokenRejected(Exception):
    """The authorizer refuses the request: a 401 with ``message``; ``reason`` is for the log."""

    def __init__(self, reason: str, message: str = UNAUTHORIZED) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class CognitoAuthorizer:
    """A REST API authorizer of type ``COGNITO_USER_POOLS`` (SAM: ``Auth.Authorizers.X``
    with ``UserPoolArn``)."""

    name: str
    user_pool_arns: tuple[str, ...]
    identity_header: str = "Authorization"

    @property
    def issuers(self) -> frozenset[str]:
        return frozenset(cognito_issuer(arn) for arn in self.user_pool_arns)


@dataclass(frozen=True)
class JwtAuthorizer:
    """An HTTP API authorizer of type ``JWT`` (``JwtConfiguration``: issuer and audiences)."""

    name: str
    issuer: str
    audiences: tuple[str, ...]
    identity_source: str = "$request.header.Authorization"

    def __post_init__(self) -> None:
        if not self.identity_source.startswith(_HEADER_SOURCE):
            raise ValueError(
                f"JWT authorizer {self.name}: identity source {self.identity_source!r} "
                "is not a request header"
            )

    @property
    def header(self) -> str:
        return self.identity_source[len(_HEADER_SOURCE) :]


def cognito_issuer(user_pool_arn: str) -> str:
    """``https://cognito-idp.{region}.amazonaws.com/{pool id}``: the ``iss`` of a pool's tokens."""
    match = _POOL_ARN.match(user_pool_arn)
    if match is None:
        raise ValueError(f"not a Cognito user pool ARN: {user_pool_arn!r}")
    region, pool_id = match.groups()
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"


def pool_id_of(issuer: str) -> str | None:
    match = _COGNITO_ISSUER.match(issuer)
    return match.group(2) if match else None


def jwks_url_resolver(cognito_endpoint: str | None) -> Callable[[str], str]:
    """Issuer -> its JWKS URL: Cognito pools on ``cognito_endpoint`` (moto), others as published
    by OpenID Connect providers (``{issuer}/.well-known/jwks.json``)."""

    def jwks_url(issuer: str) -> str:
        pool_id = pool_id_of(issuer)
        if pool_id is not None and cognito_endpoint:
            return f"{cognito_endpoint.rstrip('/')}/{pool_id}/.well-known/jwks.json"
        return f"{issuer.rstrip('/')}/.well-known/jwks.json"

    return jwks_url


def fetch_json(url: str) -> Any:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an HTTP URL: {url}")
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (checked above)
        return json.loads(response.read())


class JwksCache:
    """Signing keys by issuer and ``kid``, each key set fetched once and kept ``max_age`` seconds.

    A ``kid`` that is not in the cached set triggers one refetch (the issuer may have rotated its
    keys), at most once per ``refetch_interval`` so a stream of made-up ``kid`` values cannot
    hammer the issuer.
    """

    def __init__(
        self,
        jwks_url: Callable[[str], str],
        *,
        fetch: Fetch = fetch_json,
        max_age: float = 3600.0,
        refetch_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._jwks_url = jwks_url
        self._fetch = fetch
        self._max_age = max_age
        self._refetch_interval = refetch_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._sets: dict[str, tuple[float, dict[str, jwt.PyJWK]]] = {}

    def key(self, issuer: str, kid: str) -> jwt.PyJWK:
        url = self._jwks_url(issuer)
        with self._lock:
            cached = self._sets.get(url)
            now = self._clock()
            stale = cached is None or now - cached[0] > self._max_age
            unknown = cached is not None and kid not in cached[1]
            if stale or (
                unknown and cached is not None and now - cached[0] > self._refetch_interval
            ):
                cached = (now, self._load(url))
                self._sets[url] = cached
        assert cached is not None
        found = cached[1].get(kid)
        if found is None:
            raise TokenRejected(f"kid {kid!r} is not in {url}")
        return found

    def _load(self, url: str) -> dict[str, jwt.PyJWK]:
        try:
            document = self._fetch(url)
            keys = {}
            for data in document.get("keys", []):
                if data.get("kid") and data.get("kty") == "RSA":
                    keys[data["kid"]] = jwt.PyJWK(data, algorithm="RS256")
            return keys
        except Exception as exc:
            # On AWS an unreachable key set is also a refusal, not an integration error.
            logger.warning("JWKS %s could not be read: %s", url, exc)
            raise TokenRejected(f"JWKS {url} could not be read: {exc}") from exc


class TokenVerifier:
    """Checks tokens for the authorizers; ``app_clients(pool id)`` lists a pool's app client ids."""

    def __init__(
        self,
        jwks: JwksCache,
        *,
        app_clients: Callable[[str], Collection[str]] | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._jwks = jwks
        self._app_clients = app_clients
        self._now = now

    # -- REST: COGNITO_USER_POOLS --------------------------------------------------------------
    def cognito(self, authorizer: CognitoAuthorizer, header_value: str | None) -> dict[str, Any]:
        """The verified claims of an ID token from one of the authorizer's pools.

        The header holds the raw token (API Gateway's documented form); ``Bearer <token>`` is
        accepted too. Access tokens are refused: they are valid only with OAuth scopes on the
        method, which this project does not use.
        """
        token = _token_of(header_value)
        claims = self._verified(token, authorizer.issuers)
        if claims.get("token_use") != "id":
            raise TokenRejected(f"token_use is {claims.get('token_use')!r}, not 'id'")
        pool_id = pool_id_of(str(claims["iss"]))
        audience = claims.get("aud")
        known_client = isinstance(audience, str) and (
            self._app_clients is None or pool_id is None or audience in self._app_clients(pool_id)
        )
        if not known_client:
            raise TokenRejected(f"aud {audience!r} is no app client of {pool_id}")
        self._check_times(claims, expired_message=EXPIRED)
        return claims

    # -- HTTP API: JWT --------------------------------------------------------------------------
    def jwt(self, authorizer: JwtAuthorizer, header_value: str | None) -> dict[str, Any]:
        """The verified claims of a token for an HTTP API's JWT authorizer.

        ``aud`` must name one of the audiences; only a token without ``aud`` (an access token)
        is matched on ``client_id`` instead, as API Gateway does.
        """
        token = _token_of(header_value)
        claims = self._verified(token, frozenset({authorizer.issuer}))
        if "aud" in claims:
            audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        else:
            audiences = [claims.get("client_id")]
        if not any(isinstance(a, str) and a in authorizer.audiences for a in audiences):
            raise TokenRejected(f"audience {audiences!r} is not one of {authorizer.audiences}")
        self._check_times(claims, expired_message=UNAUTHORIZED)
        return claims

    # -- shared ---------------------------------------------------------------------------------
    def _verified(self, token: str, issuers: frozenset[str]) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"not a JWT: {exc}") from exc
        if header.get("alg") != "RS256":
            raise TokenRejected(f"alg {header.get('alg')!r} is not RS256")
        issuer = unverified.get("iss")
        # Only an issuer the authorizer names picks a key set: nothing is fetched for others.
        if not isinstance(issuer, str) or issuer not in issuers:
            raise TokenRejected(f"iss {issuer!r} is not one of {sorted(issuers)}")
        key = self._jwks.key(issuer, str(header.get("kid")))
        try:
            return jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                # Times and audience are checked by the callers, with API Gateway's messages.
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"signature: {exc}") from exc

    def _check_times(self, claims: dict[str, Any], *, expired_message: str) -> None:
        now = self._now()
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise TokenRejected("no numeric exp claim")
        if now >= exp:
            raise TokenRejected("expired", expired_message)
        nbf = claims.get("nbf")
        if isinstance(nbf, int | float) and now < nbf:
            raise TokenRejected("not valid yet (nbf)")


def _token_of(header_value: str | None) -> str:
    value = (header_value or "").strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    if not value:
        raise TokenRejected("no token in the identity source")
    return value


def rest_claims(claims: dict[str, Any]) -> dict[str, str]:
    """The claims as a REST API's Cognito authorizer hands them to Lambda: every value a string.

    As observed on API Gateway: a list becomes its items joined by commas (``cognito:groups``
    ``["admins", "staff"]`` -> ``"admins,staff"``, one group -> ``"admins"``), ``exp`` and
    ``iat`` become dates (``"Tue Apr 04 18:39:39 UTC 2023"``), other numbers their digits
    (``auth_time`` -> ``"1680629979"``), booleans ``"true"``/``"false"``.
    """
    rendered: dict[str, str] = {}
    for name, value in claims.items():
        if name in _REST_DATE_CLAIMS and isinstance(value, int | float):
            moment = datetime.fromtimestamp(value, tz=UTC)
            rendered[name] = moment.strftime("%a %b %d %H:%M:%S UTC %Y")
        elif isinstance(value, bool):
            rendered[name] = "true" if value else "false"
        elif isinstance(value, list):
            rendered[name] = ",".join(str(item) for item in value)
        elif isinstance(value, dict):
            rendered[name] = json.dumps(value)
        else:
            rendered[name] = str(value)
    return rendered
