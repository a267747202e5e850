"""Shared by the authorizer tests: a real moto Cognito (server mode) with two pools, signed-in
users, and tokens forged the ways an attacker or a stale client would present them.

moto signs every pool's tokens with one RSA key (``kid`` "dummy") that it ships; forging with
that key is how a test makes a token whose signature is valid but whose claims are wrong (another
audience, an expired ``exp``), and a fresh RSA key makes one whose signature is not.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import boto3
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.utilities.utils import load_resource

from localcloud.gateway import JwksCache, TokenVerifier, jwks_url_resolver
from localcloud.moto_server import MotoServer

REGION = "us-east-1"
PASSWORD = "Correct-horse-42!"


@dataclass
class Pool:
    pool_id: str
    arn: str
    client_id: str

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{REGION}.amazonaws.com/{self.pool_id}"


class Cognito:
    """Two user pools in a moto server; ``main`` has an ``admins`` group."""

    def __init__(self, server: MotoServer) -> None:
        self.server = server
        self.client = boto3.client(
            "cognito-idp",
            endpoint_url=server.url,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        self.main = self._pool("main")
        self.other = self._pool("other")
        self.client.create_group(GroupName="admins", UserPoolId=self.main.pool_id)

    def _pool(self, name: str) -> Pool:
        pool = self.client.create_user_pool(PoolName=f"{name}-{secrets.token_hex(3)}")["UserPool"]
        client_id = self.client.create_user_pool_client(
            UserPoolId=pool["Id"],
            ClientName="console",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        return Pool(pool["Id"], pool["Arn"], client_id)

    def tokens(self, pool: Pool, *, groups: tuple[str, ...] = ()) -> dict[str, str]:
        """A new user of ``pool``, signed in with USER_PASSWORD_AUTH: its IdToken/AccessToken."""
        username = f"user-{secrets.token_hex(4)}"
        self.client.admin_create_user(
            UserPoolId=pool.pool_id, Username=username, MessageAction="SUPPRESS"
        )
        self.client.admin_set_user_password(
            UserPoolId=pool.pool_id, Username=username, Password=PASSWORD, Permanent=True
        )
        for group in groups:
            self.client.admin_add_user_to_group(
                UserPoolId=pool.pool_id, Username=username, GroupName=group
            )
        return self.client.initiate_auth(
            AuthFlow="USER_PASSWORD_AUTH",
            ClientId=pool.client_id,
            AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
        )["AuthenticationResult"]

    def app_clients(self, pool_id: str) -> frozenset[str]:
        listed = self.client.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)
        return frozenset(c["ClientId"] for c in listed["UserPoolClients"])

    def verifier(self) -> TokenVerifier:
        return TokenVerifier(
            JwksCache(jwks_url_resolver(self.server.url)), app_clients=self.app_clients
        )


def moto_signing_key() -> Any:
    """The private key moto signs every Cognito token with."""
    return jwt.PyJWK(load_resource("cognitoidp/resources/jwks-private.json")).key


def forge(claims: dict[str, Any], *, key: Any = None, kid: str = "dummy") -> str:
    """An RS256 token with these claims, signed by moto's key unless ``key`` is given."""
    return jwt.encode(claims, key or moto_signing_key(), algorithm="RS256", headers={"kid": kid})


def claims_of(token: str, **changes: Any) -> dict[str, Any]:
    """A real token's claims with ``changes`` (a value of ``None`` removes the claim)."""
    claims = jwt.decode(token, options={"verify_signature": False})
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def another_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def unsigned(claims: dict[str, Any]) -> str:
    """An ``alg: none`` token: what an attacker tries first."""
    return jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]


def expired_claims(token: str) -> dict[str, Any]:
    past = int(time.time()) - 60
    return claims_of(token, exp=past, iat=past - 3600)
