"""clients.auth against a Cognito user pool in moto: password login, token cache (private,
reused, refreshed before expiry), clear errors for a wrong password, a first-login challenge and
MFA, and where the user and password come from."""

from __future__ import annotations

import argparse
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from clients import auth
from tools.users import create_user

EXPIRES_IN = 3600.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class CountingCognito:
    """The real (moto) client, counting the auth flows used."""

    def __init__(self, cognito: Any) -> None:
        self.cognito = cognito
        self.flows: list[str] = []

    def initiate_auth(self, **kwargs: Any) -> Any:
        self.flows.append(kwargs["AuthFlow"])
        return self.cognito.initiate_auth(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cognito, name)


@pytest.fixture(scope="module")
def pool() -> Iterator[dict[str, Any]]:
    # One pool for the module (moto makes a signing key per pool: seconds); every test that
    # changes users makes its own.
    with mock_aws():
        cognito = boto3.client("cognito-idp", region_name="us-east-1")
        pool_id = cognito.create_user_pool(PoolName="users")["UserPool"]["Id"]
        client_id = cognito.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName="cli",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        alice = create_user(cognito, pool_id, "alice")
        yield {
            "cognito": cognito,
            "pool": auth.UserPool(pool_id, client_id, "us-east-1"),
            "password": alice.password,
        }


def login(
    pool: dict[str, Any], tmp_path: Path, password: str | None = None, clock: Clock | None = None
) -> tuple[auth.CognitoLogin, CountingCognito]:
    counting = CountingCognito(pool["cognito"])
    session = auth.CognitoLogin(
        pool["pool"],
        auth.Credentials("alice", password if password is not None else pool["password"]),
        cache=auth.TokenCache(tmp_path / "cache" / "tokens.json"),
        cognito=counting,
        clock=clock or Clock(),
    )
    return session, counting


def test_a_password_login_gives_an_id_token_cached_privately(pool, tmp_path):
    # When alice logs in
    session, cognito = login(pool, tmp_path)
    token = session.id_token()

    # Then the token is an ID token of her pool, cached owner-only, and reused without a call
    assert token.count(".") == 2
    assert session.id_token() == token
    assert cognito.flows == ["USER_PASSWORD_AUTH"]
    cache = tmp_path / "cache" / "tokens.json"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert pool["password"] not in cache.read_text()


def test_a_later_run_reuses_the_cached_tokens_without_a_password(pool, tmp_path):
    first, _ = login(pool, tmp_path)
    token = first.id_token()

    # When another process starts with no password at all
    second = auth.CognitoLogin(
        pool["pool"],
        auth.Credentials("alice"),
        cache=auth.TokenCache(tmp_path / "cache" / "tokens.json"),
        cognito=pool["cognito"],
        clock=Clock(),
    )

    # Then it uses the cached token
    assert second.id_token() == token


def test_a_token_about_to_expire_is_refreshed_with_the_refresh_token(pool, tmp_path):
    # Given a login whose ID token has less than the margin left
    clock = Clock()
    session, cognito = login(pool, tmp_path, clock=clock)
    session.id_token()
    clock.now += EXPIRES_IN - auth.REFRESH_MARGIN_SECONDS + 1

    # When a token is asked for
    session.id_token()

    # Then it was renewed with REFRESH_TOKEN_AUTH, not the password
    assert cognito.flows == ["USER_PASSWORD_AUTH", "REFRESH_TOKEN_AUTH"]
    cached = auth.TokenCache(tmp_path / "cache" / "tokens.json").get(pool["pool"], "alice")
    assert cached is not None
    assert cached.expires_at == clock.now + EXPIRES_IN


def test_after_a_401_the_token_is_renewed_even_if_it_looks_valid(pool, tmp_path):
    session, cognito = login(pool, tmp_path)
    session.id_token()

    session.invalidate()
    session.id_token()

    assert cognito.flows == ["USER_PASSWORD_AUTH", "REFRESH_TOKEN_AUTH"]


def test_a_wrong_password_says_so_and_what_to_do_without_echoing_it(pool, tmp_path):
    session, _ = login(pool, tmp_path, password="Not-the-password-1")

    with pytest.raises(auth.LoginError) as raised:
        session.id_token()

    message = str(raised.value)
    assert "login as alice refused" in message
    assert "--reset-password" in message
    assert "Not-the-password-1" not in message


def test_an_unknown_user_reads_like_a_wrong_password(pool, tmp_path):
    session = auth.CognitoLogin(
        pool["pool"], auth.Credentials("nobody", "Whatever-1!"), cognito=pool["cognito"]
    )

    with pytest.raises(auth.LoginError, match="login as nobody refused"):
        session.id_token()


def test_a_first_login_challenge_says_how_to_set_a_password(pool, tmp_path):
    # Given a user an admin created with a temporary password only
    pool["cognito"].admin_create_user(
        UserPoolId=pool["pool"].pool_id,
        Username="carol",
        TemporaryPassword="Temp-Pass-123!",
        MessageAction="SUPPRESS",
    )
    session = auth.CognitoLogin(
        pool["pool"], auth.Credentials("carol", "Temp-Pass-123!"), cognito=pool["cognito"]
    )

    # When carol logs in from the command line / Then she is told what to do
    with pytest.raises(auth.LoginError, match="new password") as raised:
        session.id_token()
    assert "web console" in str(raised.value)
    assert "tools.users create carol --reset-password" in str(raised.value)


def test_an_mfa_challenge_without_a_code_says_how_to_give_one(pool):
    class MfaCognito:
        def initiate_auth(self, **_: Any) -> dict[str, Any]:
            return {
                "ChallengeName": "SOFTWARE_TOKEN_MFA",
                "Session": "s",
                "ChallengeParameters": {},
            }

    session = auth.CognitoLogin(pool["pool"], auth.Credentials("alice", "x"), cognito=MfaCognito())

    with pytest.raises(auth.LoginError, match="--mfa-code"):
        session.id_token()


def test_no_password_anywhere_says_where_to_put_one(pool):
    session = auth.CognitoLogin(pool["pool"], auth.Credentials("alice"), cognito=pool["cognito"])

    with pytest.raises(auth.LoginError, match="PIPELINE_PASSWORD"):
        session.id_token()


def test_credentials_come_from_flags_then_environment_then_env_file():
    env_file = {"DEMO_USERNAME": "demo", "DEMO_PASSWORD": "file-pw"}

    def creds(user=None, password=None, environ=None):
        return auth.credentials_from(
            user=user, password=password, environ=environ or {}, env_values=env_file
        )

    assert creds() == auth.Credentials("demo", "file-pw")
    environ = {"PIPELINE_USERNAME": "ops", "PIPELINE_PASSWORD": "env-pw"}
    assert creds(environ=environ) == auth.Credentials("ops", "env-pw")
    assert creds(user="x", password="flag-pw", environ=environ) == auth.Credentials("x", "flag-pw")
    # The file's password is the demo user's: never sent as another user's
    assert creds(user="bob") == auth.Credentials("bob", None)
    assert creds(user="demo") == auth.Credentials("demo", "file-pw")
    assert "file-pw" not in repr(creds())


def test_nobody_to_log_in_as_is_a_clear_error():
    with pytest.raises(auth.LoginError, match="--user"):
        auth.credentials_from(user=None, password=None, environ={}, env_values={})


def test_the_pool_and_its_region_come_from_the_env_file():
    values = {
        "USER_POOL_ID": "eu-west-1_AbC",
        "USER_POOL_CLIENT_ID": "app",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
    }

    assert auth.user_pool(values) == auth.UserPool(
        "eu-west-1_AbC", "app", "eu-west-1", "http://127.0.0.1:5000"
    )
    with pytest.raises(auth.LoginError, match="USER_POOL_ID"):
        auth.user_pool({"AWS_REGION": "us-east-1"})


def test_login_from_args_logs_in_unsigned_through_the_endpoint(pool, tmp_path):
    # Given the env file values a CLI reads (the pool and the demo user's credentials)
    values = {
        "USER_POOL_ID": pool["pool"].pool_id,
        "USER_POOL_CLIENT_ID": pool["pool"].client_id,
        "DEMO_USERNAME": "alice",
        "DEMO_PASSWORD": pool["password"],
    }
    args = argparse.Namespace(
        user=None, password=None, mfa_code=None, token_cache=tmp_path / "tokens.json"
    )

    # When the CLI builds its login and asks for a token
    session = auth.login_from_args(args, values, environ={}, interactive=False)

    # Then it logs in as the env file's user
    assert session.username == "alice"
    assert session.id_token().count(".") == 2
