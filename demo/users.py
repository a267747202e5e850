"""The demo's user: created in the local cloud's user pool by the operators' own command
(``tools.users``), its password written to the env file, never printed. Every pipeline the demo
drives through the REST API logs in as this user, the way the CLIs do (``clients.auth``)."""

from __future__ import annotations

from pathlib import Path

from clients.auth import CognitoLogin, Credentials, TokenCache, user_pool
from clients.env import parse_env
from tools import users

DEMO_USERNAME = "demo"


def demo_login(env_file: Path, cognito: object, token_cache: Path) -> CognitoLogin:
    """Create the demo user (a fresh local cloud has an empty pool) and log it in."""
    values = parse_env(env_file.read_text(), source=str(env_file))
    created = users.create_user(cognito, values["USER_POOL_ID"], DEMO_USERNAME, reset_password=True)
    assert created.password is not None
    users.write_credentials(env_file, created.username, created.password)
    values = parse_env(env_file.read_text(), source=str(env_file))
    return CognitoLogin(
        user_pool(values, source=str(env_file)),
        Credentials(values[users.USER_KEY], values[users.PASSWORD_KEY]),
        cache=TokenCache(token_cache),
    )
