"""Owner-aware helpers for the REST function tests: the sample users, and events re-addressed to
one of them (or to nobody). Tables and rows come from ``tests.support.api_aws``.

The sample events in ``events/`` are Alice's requests, with the claims API Gateway's Cognito
authorizer puts in ``requestContext.authorizer.claims`` (every value a string). Bob is another
ordinary user; Carol is in the ``admins`` group.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class User:
    sub: str
    username: str
    groups: str = ""  # as API Gateway passes cognito:groups: "admins", or absent

    @property
    def uploads(self) -> str:
        """The S3 prefix this user's uploads go under."""
        return f"uploads/{self.sub}/"


ALICE = User(sub="4b1d2c3e-5f60-4a7b-8c9d-0e1f2a3b4c5d", username="alice")
BOB = User(sub="b7c1d2e3-f4a5-4b6c-8d7e-9f0a1b2c3d4e", username="bob")
CAROL_ADMIN = User(sub="9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d", username="carol", groups="admins")
SAMPLE_USER = ALICE  # whose requests the sample events are


def as_user(event: dict[str, Any], user: User) -> dict[str, Any]:
    """``event`` as ``user`` would send it: the same request, that user's verified claims."""
    changed = copy.deepcopy(event)
    claims = changed["requestContext"]["authorizer"]["claims"]
    claims.update(
        {
            "sub": user.sub,
            "cognito:username": user.username,
            "email": f"{user.username}@example.com",
        }
    )
    claims.pop("cognito:groups", None)
    if user.groups:
        claims["cognito:groups"] = user.groups
    return changed


def without_claims(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` with no authorizer context: what a misconfigured route would deliver."""
    changed = copy.deepcopy(event)
    changed["requestContext"].pop("authorizer", None)
    return changed
