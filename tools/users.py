"""Manage the stack's users (operators): the same code against AWS and the local cloud.

    python -m tools.users create USERNAME [--admin] [--email ADDRESS] [--reset-password]
                                 [--write-credentials] [--env-file .env.local] [--json]
    python -m tools.users delete USERNAME [--env-file .env.local]

The user pool comes from the env file (``USER_POOL_ID``; the local cloud's file also names its
endpoint and credentials, ``AWS_ENDPOINT_URL``/``AWS_ACCESS_KEY_ID``). Against AWS the caller's
own AWS credentials are used and need ``cognito-idp:Admin*`` on the pool.

``create`` makes a confirmed user with a random password that meets the pool's policy
(``admin_create_user`` with no invitation message, then ``admin_set_user_password(Permanent)``)
and adds it to the ``admins`` group with ``--admin``. It is idempotent: an existing user keeps
its password unless ``--reset-password`` is given. The password is never printed:
``--write-credentials`` stores ``DEMO_USERNAME``/``DEMO_PASSWORD`` in the env file (mode 0600),
where the CLIs (``clients.auth``) find them. ``delete`` removes the user and, when the env file
holds that user's credentials, them too.
"""

from __future__ import annotations

import argparse
import secrets
import string
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from clients.cli import add_common_options, emit, invoke
from tools.env_file import write_private

# The env file it reads the pool from and writes a login to (the local cloud's).
DEFAULT_ENV_FILE = Path(".env.local")
ADMINS_GROUP = "admins"
USER_KEY, PASSWORD_KEY = "DEMO_USERNAME", "DEMO_PASSWORD"
# Symbols Cognito counts as special that need no quoting in an env file or a shell assignment.
SYMBOLS = "!%+,-.:@^_"
PASSWORD_LENGTH = 24


class UsersError(RuntimeError):
    """The operation cannot be done as asked: the message says why and what to do."""


@dataclass(frozen=True)
class UserResult:
    username: str
    sub: str
    created: bool  # False: the user existed already
    admin: bool
    password: str | None = field(default=None, repr=False)  # set only when (re)set here


def generate_password(length: int = PASSWORD_LENGTH) -> str:
    """Random, with upper and lower case letters, digits and symbols (any pool policy's classes),
    starting with a letter so no tool reads it as an option."""
    alphabet = string.ascii_letters + string.digits + SYMBOLS
    required = [string.ascii_uppercase, string.ascii_lowercase, string.digits, SYMBOLS]
    while True:
        candidate = secrets.choice(string.ascii_letters) + "".join(
            secrets.choice(alphabet) for _ in range(length - 1)
        )
        if all(any(c in chars for c in candidate) for chars in required):
            return candidate


def cognito_client(values: Mapping[str, str]) -> Any:
    """cognito-idp for the env file's pool: the local cloud's endpoint and credentials when the
    file names them, otherwise boto3's own configuration (AWS)."""
    pool_id = values.get("USER_POOL_ID", "")
    region = pool_id.split("_", 1)[0] if "_" in pool_id else values.get("AWS_REGION")
    kwargs: dict[str, Any] = {"region_name": region or None}
    if values.get("AWS_ENDPOINT_URL"):
        kwargs["endpoint_url"] = values["AWS_ENDPOINT_URL"]
    if values.get("AWS_ACCESS_KEY_ID") and values.get("AWS_SECRET_ACCESS_KEY"):
        kwargs["aws_access_key_id"] = values["AWS_ACCESS_KEY_ID"]
        kwargs["aws_secret_access_key"] = values["AWS_SECRET_ACCESS_KEY"]
    return boto3.client("cognito-idp", **kwargs)


def _password_length(cognito: Any, pool_id: str) -> int:
    pool = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    minimum = pool.get("Policies", {}).get("PasswordPolicy", {}).get("MinimumLength", 8)
    return max(PASSWORD_LENGTH, int(minimum))


def _sub(user: Mapping[str, Any]) -> str:
    attributes = user.get("UserAttributes") or user.get("Attributes") or []
    return next((a["Value"] for a in attributes if a["Name"] == "sub"), "")


def create_user(
    cognito: Any,
    pool_id: str,
    username: str,
    *,
    admin: bool = False,
    email: str | None = None,
    reset_password: bool = False,
) -> UserResult:
    """Create (or find) a confirmed user; set a new random password when created or asked."""
    try:
        user = cognito.admin_get_user(UserPoolId=pool_id, Username=username)
        created = False
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "UserNotFoundException":
            raise
        attributes = [{"Name": "email", "Value": email}] if email else []
        if email:
            attributes.append({"Name": "email_verified", "Value": "true"})
        user = cognito.admin_create_user(
            UserPoolId=pool_id,
            Username=username,
            UserAttributes=attributes,
            MessageAction="SUPPRESS",  # no invitation e-mail: the operator hands the password over
        )["User"]
        created = True
    password = None
    if created or reset_password:
        password = generate_password(_password_length(cognito, pool_id))
        # Permanent: the user is CONFIRMED and can log in at once (no NEW_PASSWORD_REQUIRED).
        cognito.admin_set_user_password(
            UserPoolId=pool_id, Username=username, Password=password, Permanent=True
        )
    if admin:
        try:
            cognito.admin_add_user_to_group(
                UserPoolId=pool_id, Username=username, GroupName=ADMINS_GROUP
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                raise UsersError(
                    f"user pool {pool_id} has no group {ADMINS_GROUP!r}: deploy the template "
                    "(AdminsGroup) first"
                ) from exc
            raise
    return UserResult(username, _sub(user), created, admin, password)


def delete_user(cognito: Any, pool_id: str, username: str) -> bool:
    """Delete a user; False when there was none."""
    try:
        cognito.admin_delete_user(UserPoolId=pool_id, Username=username)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "UserNotFoundException":
            return False
        raise
    return True


def read_env_values(path: Path) -> dict[str, str]:
    from clients.env import parse_env

    try:
        return parse_env(path.read_text(), source=str(path))
    except FileNotFoundError:
        return {}


def update_env_file(path: Path, updates: Mapping[str, str | None]) -> None:
    """Set (or, with None, remove) keys of an env file in place, keeping every other line;
    written owner-only, because it now holds a password."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        lines = []
    kept = [
        line
        for line in lines
        if line.strip().removeprefix("export ").partition("=")[0].strip() not in updates
    ]
    kept += [f"{key}={value}" for key, value in updates.items() if value is not None]
    write_private(path, "\n".join(kept) + "\n")


def write_credentials(path: Path, username: str, password: str) -> None:
    update_env_file(path, {USER_KEY: username, PASSWORD_KEY: password})


def _pool_id(values: Mapping[str, str], args: argparse.Namespace) -> str:
    pool_id = args.user_pool_id or values.get("USER_POOL_ID")
    if not pool_id:
        raise UsersError(
            f"no user pool: {args.env_file} lacks USER_POOL_ID (start the local cloud or run "
            "`make outputs`), or pass --user-pool-id"
        )
    return str(pool_id)


def _create(args: argparse.Namespace, values: Mapping[str, str], cognito: Any) -> dict[str, Any]:
    pool_id = _pool_id(values, args)
    stored = values.get(USER_KEY) == args.username and bool(values.get(PASSWORD_KEY))
    if args.write_credentials and not args.reset_password and not stored:
        try:
            cognito.admin_get_user(UserPoolId=pool_id, Username=args.username)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "UserNotFoundException":
                raise
        else:
            raise UsersError(
                f"{args.username} exists and its password is not in {args.env_file}: pass "
                "--reset-password to set a new one and write it"
            )
    result = create_user(
        cognito,
        pool_id,
        args.username,
        admin=args.admin,
        email=args.email,
        reset_password=args.reset_password,
    )
    where = None
    if args.write_credentials and result.password is not None:
        write_credentials(args.env_file, result.username, result.password)
        where = f"{args.env_file} ({PASSWORD_KEY})"
    elif stored:
        where = f"{args.env_file} ({PASSWORD_KEY}, unchanged)"
    return {
        "username": result.username,
        "sub": result.sub,
        "created": result.created,
        "admin": result.admin,
        "password_set": result.password is not None,
        "password_in": where,
    }


def add_create_arguments(create: argparse.ArgumentParser) -> None:
    add_delete_arguments(create)
    create.add_argument("--admin", action="store_true", help=f"add to the {ADMINS_GROUP} group")
    create.add_argument("--email", help="e-mail address (marked verified)")
    create.add_argument(
        "--reset-password", action="store_true", help="set a new password if the user exists"
    )
    create.add_argument(
        "--write-credentials",
        action="store_true",
        help=f"write {USER_KEY}/{PASSWORD_KEY} to the env file (the password is never printed)",
    )


def add_delete_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("username")
    command.add_argument("--user-pool-id", help="default: the env file's USER_POOL_ID")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.users", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a user (idempotent)")
    add_create_arguments(create)
    delete = commands.add_parser("delete", help="delete a user")
    add_delete_arguments(delete)
    for command in (create, delete):
        add_common_options(command, env_file=DEFAULT_ENV_FILE)
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return _parser().parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return invoke(_parser(), run, argv)


def run(args: argparse.Namespace) -> int:
    """`pipeline users create|delete` and `python -m tools.users create|delete`."""
    values = read_env_values(args.env_file)
    try:
        cognito = cognito_client(values)
        if args.command == "create":
            outcome = _create(args, values, cognito)
        else:
            deleted = delete_user(cognito, _pool_id(values, args), args.username)
            if values.get(USER_KEY) == args.username:
                update_env_file(args.env_file, {USER_KEY: None, PASSWORD_KEY: None})
            outcome = {"username": args.username, "deleted": deleted}
    except (UsersError, BotoCoreError) as exc:
        print(f"users: {exc}", file=sys.stderr)
        return 1
    except ClientError as exc:
        error = exc.response.get("Error", {})
        print(f"users: {error.get('Code')}: {error.get('Message')}", file=sys.stderr)
        return 1
    if args.command == "delete":
        text = f"{args.username}: {'deleted' if outcome['deleted'] else 'no such user'}"
    else:
        text = _describe(outcome)
    emit(args, outcome, text=text)
    return 0


def _describe(outcome: Mapping[str, Any]) -> str:
    state = "created" if outcome["created"] else "exists"
    role = ", admin" if outcome["admin"] else ""
    text = f"{outcome['username']}: {state}{role} (sub {outcome['sub']})"
    if outcome["password_in"]:
        return f"{text}; password in {outcome['password_in']}"
    if outcome["password_set"]:
        return (
            f"{text}; a new password was set and not written anywhere: run again with "
            "--reset-password --write-credentials to get one"
        )
    return f"{text}; password unchanged"


if __name__ == "__main__":
    sys.exit(main())
