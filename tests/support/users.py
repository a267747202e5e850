"""Users on a running stack: create them in the stack's user pool and log them in, the way the
CLIs and the console do (cognito-idp ``InitiateAuth``, ``USER_PASSWORD_AUTH``, the ID token sent
as ``Authorization``).

Works against the local cloud (moto's Cognito; pass ``LocalCloud.client``) and against a deployed
stack (pass a boto3 session's ``client``): the pool and app client come from the stack's outputs
``UserPoolId``/``UserPoolClientId``. Users are created by ``tools.users.create_user``, the
operators' own command, so the tests exercise the path a real deployment uses.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tools.users import create_user, delete_user

ClientFactory = Callable[[str], Any]


@dataclass(frozen=True)
class StackUser:
    """A logged-in user of one stack. ``sub`` owns what the user creates."""

    username: str
    password: str = field(repr=False)
    sub: str
    id_token: str = field(repr=False)
    admin: bool = False

    @property
    def rest_headers(self) -> dict[str, str]:
        """The REST API's Cognito authorizer takes the raw ID token."""
        return {"Authorization": self.id_token}

    @property
    def bearer_headers(self) -> dict[str, str]:
        """The HTTP API's JWT authorizer takes ``Bearer <token>``."""
        return {"Authorization": f"Bearer {self.id_token}"}

    @property
    def uploads(self) -> str:
        """The S3 prefix this user's uploads go under."""
        return f"uploads/{self.sub}/"


@dataclass(frozen=True)
class Users:
    """The e2e session's users: two ordinary ones and one in the ``admins`` group."""

    alice: StackUser
    bob: StackUser
    admin: StackUser


def log_in(cognito: Any, app_client_id: str, username: str, password: str) -> dict[str, Any]:
    """``AuthenticationResult`` of a password login (IdToken, AccessToken, RefreshToken...)."""
    answer = cognito.initiate_auth(
        ClientId=app_client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    assert "AuthenticationResult" in answer, f"login of {username} asked for {answer}"
    result: dict[str, Any] = answer["AuthenticationResult"]
    return result


def create_and_log_in(
    cognito: Any, pool_id: str, app_client_id: str, username: str, *, admin: bool = False
) -> StackUser:
    """A fresh confirmed user (a new random password), logged in."""
    created = create_user(cognito, pool_id, username, admin=admin, reset_password=True)
    assert created.password is not None
    tokens = log_in(cognito, app_client_id, username, created.password)
    return StackUser(username, created.password, created.sub, tokens["IdToken"], admin)


def stack_users(
    clients: ClientFactory, outputs: Mapping[str, str], *, suffix: str | None = None
) -> Users:
    """Alice, Bob and an admin in the stack's pool. ``suffix`` (default: random) keeps the names
    of two runs against one deployed stack apart."""
    cognito = clients("cognito-idp")
    pool_id, app_client_id = outputs["UserPoolId"], outputs["UserPoolClientId"]
    tail = suffix if suffix is not None else uuid.uuid4().hex[:8]

    def user(name: str, admin: bool = False) -> StackUser:
        username = f"{name}-{tail}" if tail else name
        return create_and_log_in(cognito, pool_id, app_client_id, username, admin=admin)

    return Users(alice=user("alice"), bob=user("bob"), admin=user("admin", admin=True))


def remove_users(clients: ClientFactory, outputs: Mapping[str, str], users: Users) -> None:
    """Delete the users ``stack_users`` made (a deployed stack keeps its pool)."""
    cognito = clients("cognito-idp")
    for user in (users.alice, users.bob, users.admin):
        delete_user(cognito, outputs["UserPoolId"], user.username)
