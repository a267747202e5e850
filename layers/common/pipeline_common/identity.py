"""Who is calling: the verified user that API Gateway's Cognito authorizer put in the event.

The caller is read here and nowhere else. It comes from ``requestContext.authorizer.claims``,
which API Gateway fills only after it has checked the token's signature, issuer, audience and
expiry; a body, a query string or a header is never trusted for it. Every table query and every
S3 prefix a function touches is scoped by ``Caller.owner_id``.

REST APIs pass the claims as strings: ``cognito:groups`` arrives as ``"admins"`` or, for several
groups, as ``"[admins, readers]"`` / ``"admins,readers"`` depending on the integration; HTTP APIs
(``authorizer.jwt.claims``) and tests may pass a list. All forms are accepted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pipeline_common.http import Unauthorized

ADMINS_GROUP = "admins"
_GROUP_SPLIT = re.compile(r"[\s,\[\]]+")
# Cognito subs are UUIDs; anything else in a claim means the event was not made by the authorizer.
_SUB = re.compile(r"^[A-Za-z0-9-]{1,128}$")


@dataclass(frozen=True)
class Caller:
    """A verified user: ``owner_id`` (the token's ``sub``) owns what the user creates."""

    owner_id: str
    username: str
    groups: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMINS_GROUP in self.groups

    def may_see(self, owner_id: str | None) -> bool:
        """Whether a resource owned by ``owner_id`` is visible to this caller (admins see all).

        A resource without an owner is visible to admins only: nothing is shared by accident.
        """
        return self.is_admin or (owner_id is not None and owner_id == self.owner_id)


def parse_groups(raw: Any) -> frozenset[str]:
    if raw is None or raw == "":
        return frozenset()
    items: Iterable[Any] = (
        raw if isinstance(raw, list | tuple | set | frozenset) else _GROUP_SPLIT.split(str(raw))
    )
    return frozenset(str(item).strip() for item in items if str(item).strip())


def caller_from_claims(claims: Mapping[str, Any] | None) -> Caller:
    """The caller named by an authorizer's claims; ``Unauthorized`` if there is none."""
    if not claims:
        raise Unauthorized("no verified user on this request")
    sub = str(claims.get("sub") or "")
    if not _SUB.match(sub):
        raise Unauthorized("the token names no valid user")
    username = str(claims.get("cognito:username") or claims.get("username") or sub)
    return Caller(
        owner_id=sub, username=username, groups=parse_groups(claims.get("cognito:groups"))
    )


def caller_from_event(event: Mapping[str, Any]) -> Caller:
    """The caller of a REST (``authorizer.claims``) or HTTP (``authorizer.jwt.claims``) event."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    claims = authorizer.get("claims") or (authorizer.get("jwt") or {}).get("claims")
    return caller_from_claims(claims)
