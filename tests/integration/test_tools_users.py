"""tools.users against a Cognito user pool in moto: create (idempotent, admin, credentials in the
env file without printing them), reset, delete; the created user can log in at once."""

from __future__ import annotations

import json
import stat
import string
from pathlib import Path
from typing import Any

import boto3
import pytest

from clients.env import parse_env
from tools import users


@pytest.fixture
def pool(mocked_aws: None, tmp_path: Path) -> dict[str, Any]:
    cognito = boto3.client("cognito-idp", region_name="us-east-1")
    pool_id = cognito.create_user_pool(
        PoolName="pipeline-users",
        Policies={"PasswordPolicy": {"MinimumLength": 12, "RequireSymbols": True}},
    )["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="console",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    cognito.create_group(UserPoolId=pool_id, GroupName="admins")
    env_file = tmp_path / ".env.local"
    env_file.write_text(f"# outputs\nUSER_POOL_ID={pool_id}\nUSER_POOL_CLIENT_ID={client_id}\n")
    return {"cognito": cognito, "pool_id": pool_id, "client_id": client_id, "env": env_file}


def log_in(pool: dict[str, Any], username: str, password: str) -> dict[str, Any]:
    answer: dict[str, Any] = pool["cognito"].initiate_auth(
        ClientId=pool["client_id"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    return answer


def test_generated_passwords_meet_any_pool_policy():
    for _ in range(200):
        password = users.generate_password(12)
        assert len(password) == 12
        assert password[0].isalpha()
        for chars in (string.ascii_uppercase, string.ascii_lowercase, string.digits, users.SYMBOLS):
            assert any(c in chars for c in password)
    assert users.generate_password() != users.generate_password()


def test_a_created_user_is_confirmed_and_logs_in_with_its_password(pool):
    # When a user is created
    created = users.create_user(pool["cognito"], pool["pool_id"], "alice")

    # Then it is confirmed, not an admin, and its password logs in without a challenge
    assert created.created
    assert not created.admin
    assert created.password is not None
    assert len(created.password) >= 12
    assert "AuthenticationResult" in log_in(pool, "alice", created.password)
    assert created.sub
    assert created.password not in repr(created)


def test_create_is_idempotent_and_resets_the_password_only_when_asked(pool):
    # Given an existing user
    first = users.create_user(pool["cognito"], pool["pool_id"], "alice")
    assert first.password is not None

    # When it is created again, then again with a reset
    again = users.create_user(pool["cognito"], pool["pool_id"], "alice")
    reset = users.create_user(pool["cognito"], pool["pool_id"], "alice", reset_password=True)

    # Then the first call changed nothing and the second set a new password
    assert (again.created, again.password, again.sub) == (False, None, first.sub)
    assert reset.password is not None
    assert reset.password != first.password
    assert "AuthenticationResult" in log_in(pool, "alice", reset.password)


def test_an_admin_is_in_the_admins_group_and_its_token_says_so(pool):
    created = users.create_user(pool["cognito"], pool["pool_id"], "root", admin=True)

    groups = pool["cognito"].admin_list_groups_for_user(
        UserPoolId=pool["pool_id"], Username="root"
    )["Groups"]
    assert [g["GroupName"] for g in groups] == ["admins"]
    assert created.admin


def test_the_cli_writes_the_credentials_to_the_env_file_and_never_prints_the_password(pool, capsys):
    # When the operator creates the demo user with --write-credentials
    code = users.main(
        ["create", "demo", "--env-file", str(pool["env"]), "--write-credentials", "--json"]
    )

    # Then the env file holds the user and a password that logs in, and is owner-only
    assert code == 0
    values = parse_env(pool["env"].read_text())
    assert values["DEMO_USERNAME"] == "demo"
    assert "AuthenticationResult" in log_in(pool, "demo", values["DEMO_PASSWORD"])
    assert values["USER_POOL_ID"] == pool["pool_id"]  # the other lines are kept
    assert stat.S_IMODE(pool["env"].stat().st_mode) == 0o600
    # And the output names where the password is, never the password
    out = capsys.readouterr()
    assert values["DEMO_PASSWORD"] not in out.out + out.err
    outcome = json.loads(out.out)
    assert outcome["created"] is True
    assert "DEMO_PASSWORD" in outcome["password_in"]


def test_rerunning_the_cli_keeps_the_stored_password(pool):
    args = ["create", "demo", "--env-file", str(pool["env"]), "--write-credentials"]
    assert users.main(args) == 0
    stored = parse_env(pool["env"].read_text())["DEMO_PASSWORD"]

    assert users.main(args) == 0

    assert parse_env(pool["env"].read_text())["DEMO_PASSWORD"] == stored
    assert "AuthenticationResult" in log_in(pool, "demo", stored)


def test_an_existing_user_whose_password_is_unknown_needs_reset_password(pool, capsys):
    # Given a user created elsewhere (its password is not in the env file)
    users.create_user(pool["cognito"], pool["pool_id"], "bob")

    # When its credentials are asked for without --reset-password
    code = users.main(["create", "bob", "--env-file", str(pool["env"]), "--write-credentials"])

    # Then nothing is changed and the operator is told what to pass
    assert code == 1
    assert "--reset-password" in capsys.readouterr().err
    assert "DEMO_PASSWORD" not in pool["env"].read_text()
    args = ["create", "bob", "--env-file", str(pool["env"]), "--write-credentials"]
    assert users.main([*args, "--reset-password"]) == 0
    values = parse_env(pool["env"].read_text())
    assert "AuthenticationResult" in log_in(pool, "bob", values["DEMO_PASSWORD"])


def test_delete_removes_the_user_and_its_stored_credentials(pool, capsys):
    users.main(["create", "demo", "--env-file", str(pool["env"]), "--write-credentials"])

    assert users.main(["delete", "demo", "--env-file", str(pool["env"])]) == 0
    assert users.main(["delete", "demo", "--env-file", str(pool["env"])]) == 0

    assert "no such user" in capsys.readouterr().out
    assert "DEMO_" not in pool["env"].read_text()
    with pytest.raises(pool["cognito"].exceptions.UserNotFoundException):
        pool["cognito"].admin_get_user(UserPoolId=pool["pool_id"], Username="demo")


def test_no_pool_in_the_env_file_is_a_clear_error(mocked_aws: None, tmp_path, capsys):
    code = users.main(["create", "x", "--env-file", str(tmp_path / "absent.env")])

    assert code == 1
    assert "USER_POOL_ID" in capsys.readouterr().err
