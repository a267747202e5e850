"""pipeline_common.identity: the caller comes from the authorizer's verified claims only."""

from __future__ import annotations

import pytest

from pipeline_common.http import Unauthorized
from pipeline_common.identity import caller_from_claims, caller_from_event, parse_groups

SUB = "8f0e4f5a-31b1-4c59-9d5e-6f4b2a0c9d11"


@pytest.mark.parametrize(
    ("raw", "groups"),
    [
        (None, set()),
        ("", set()),
        ("admins", {"admins"}),
        ("admins,readers", {"admins", "readers"}),
        ("[admins readers]", {"admins", "readers"}),
        (["admins", "readers"], {"admins", "readers"}),
    ],
)
def test_groups_are_read_in_every_form_api_gateway_renders(raw: object, groups: set) -> None:
    assert parse_groups(raw) == groups


def test_a_rest_event_names_its_caller_from_the_cognito_claims() -> None:
    # Given a REST event whose authorizer verified an admin's token
    event = {
        "requestContext": {
            "authorizer": {
                "claims": {"sub": SUB, "cognito:username": "ada", "cognito:groups": "admins"}
            }
        },
        "body": '{"owner": "someone-else"}',
    }

    # When the caller is read
    caller = caller_from_event(event)

    # Then it is the token's user, whatever the body says
    assert (caller.owner_id, caller.username, caller.is_admin) == (SUB, "ada", True)
    assert caller.may_see("any-owner")


def test_an_http_api_event_names_its_caller_from_the_jwt_claims() -> None:
    event = {"requestContext": {"authorizer": {"jwt": {"claims": {"sub": SUB}, "scopes": None}}}}

    caller = caller_from_event(event)

    assert caller.owner_id == SUB
    assert not caller.is_admin
    assert caller.may_see(SUB)
    assert not caller.may_see("someone-else")
    assert not caller.may_see(None)


@pytest.mark.parametrize(
    "event",
    [{}, {"requestContext": {}}, {"requestContext": {"authorizer": {"claims": {}}}}],
)
def test_no_claims_is_unauthorized(event: dict) -> None:
    with pytest.raises(Unauthorized):
        caller_from_event(event)


@pytest.mark.parametrize("sub", ["", "a b", "x" * 129, "../etc"])
def test_a_sub_that_no_authorizer_would_issue_is_refused(sub: str) -> None:
    with pytest.raises(Unauthorized):
        caller_from_claims({"sub": sub})
