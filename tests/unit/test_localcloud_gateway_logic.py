"""The gateway's pure rules: resource precedence, authorizer policy evaluation, route selection."""

from __future__ import annotations

import pytest

from localcloud.gateway import RestRoute
from localcloud.gateway.errors import MalformedResponse
from localcloud.gateway.rest_routing import RestRouter
from localcloud.gateway.websocket_auth import evaluate_policy, missing_identity_sources
from localcloud.gateway.websocket_events import select_route

ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/live/$connect"

ROUTER = RestRouter(
    [
        RestRoute("ANY", "/{proxy+}", "Fallback"),
        RestRoute("GET", "/jobs/{job_id}", "GetJob"),
        RestRoute("GET", "/jobs/{job_id}/outputs/{proxy+}", "Outputs"),
        RestRoute("POST", "/process/{algo_id}", "Router"),
        RestRoute("GET", "/", "Root"),
    ]
)


@pytest.mark.parametrize(
    ("method", "path", "function", "params"),
    [
        ("GET", "/jobs/j-1", "GetJob", {"job_id": "j-1"}),
        ("GET", "/jobs/j-1/", "GetJob", {"job_id": "j-1"}),
        ("GET", "/jobs/j-1/outputs/a/b.png", "Outputs", {"job_id": "j-1", "proxy": "a/b.png"}),
        ("POST", "/process/processing_1", "Router", {"algo_id": "processing_1"}),
        ("GET", "/anything/else", "Fallback", {"proxy": "anything/else"}),
        ("GET", "/", "Root", {}),
        ("GET", "/jobs/a%2Fb", "GetJob", {"job_id": "a/b"}),
    ],
)
def test_most_specific_resource_wins(method, path, function, params):
    # Given overlapping resources
    # When a path is matched
    match = ROUTER.match(method, path)

    # Then the most specific resource answers, with decoded parameters
    assert match is not None
    assert match.route.function == function
    assert match.path_parameters == params


def test_resource_without_the_method_does_not_fall_back():
    # Given /process/{algo_id} with POST only, and a greedy ANY fallback
    # When GET reaches it
    # Then API Gateway picks the resource first: no method there, no match
    assert ROUTER.match("GET", "/process/processing_1") is None


def test_greedy_parameter_must_be_last():
    # Given a greedy parameter in the middle
    # When routes are compiled
    # Then the declaration is refused
    with pytest.raises(ValueError, match="last"):
        RestRouter([RestRoute("GET", "/a/{p+}/b", "F")])


def policy(*statements: dict, principal: object = "c-1", context: object = None) -> dict:
    answer = {"principalId": principal, "policyDocument": {"Statement": list(statements)}}
    if context is not None:
        answer["context"] = context
    return answer


def statement(effect: str, resource: object, action: object = "execute-api:Invoke") -> dict:
    return {"Effect": effect, "Action": action, "Resource": resource}


@pytest.mark.parametrize(
    ("answer", "allowed"),
    [
        (policy(statement("Allow", ARN)), True),
        (policy(statement("Allow", "arn:aws:execute-api:*:*:abc123/*")), True),
        (policy(statement("Allow", [ARN], action=["execute-api:*"])), True),
        (policy(statement("Allow", "*", action="*")), True),
        (
            policy(
                statement("Allow", "arn:aws:execute-api:us-east-1:123456789012:abc123/live/*/*")
            ),
            False,
        ),
        (policy(statement("Allow", ARN, action="s3:GetObject")), False),
        (policy(statement("Allow", ARN), statement("Deny", "*")), False),
        (policy(statement("Deny", ARN)), False),
        (policy(), False),
    ],
)
def test_policy_allows_only_an_allow_on_the_method_arn(answer, allowed):
    # Given an authorizer answer
    # When it is evaluated against the $connect methodArn
    decision = evaluate_policy(answer, ARN)

    # Then only an undenied Allow covering the ARN lets the client in
    assert decision.allowed is allowed


@pytest.mark.parametrize(
    "answer",
    [
        None,
        {"policyDocument": {"Statement": []}},
        policy(statement("Maybe", ARN)),
        policy(statement("Allow", ARN), context={"nested": {"a": 1}}),
        policy(statement("Allow", ARN), context=["a"]),
        {"principalId": "c-1"},
    ],
)
def test_malformed_authorizer_answer_is_refused(answer):
    # Given an answer API Gateway cannot use
    # When it is evaluated
    # Then it is a configuration error (a 500 to the client)
    with pytest.raises(MalformedResponse):
        evaluate_policy(answer, ARN)


def test_identity_sources_are_checked_case_insensitively_for_headers():
    # Given a header and a query identity source
    sources = ("route.request.header.Authorization", "route.request.querystring.client_id")

    # When a request has the header in another case and an empty client_id
    missing = missing_identity_sources(sources, {"authorization": "x"}, {"client_id": ""})

    # Then only the empty one is missing
    assert missing == ["route.request.querystring.client_id"]


@pytest.mark.parametrize(
    ("body", "expression", "route"),
    [
        ('{"action": "submit"}', "$request.body.action", "submit"),
        ('{"action": "nope"}', "$request.body.action", "$default"),
        ('{"action": "$connect"}', "$request.body.action", "$default"),
        ("not json", "$request.body.action", "$default"),
        ('{"msg": {"type": "submit"}}', "${request.body.msg.type}", "submit"),
        ('["submit"]', "$request.body.action", "$default"),
    ],
)
def test_route_selection(body, expression, route):
    # Given routes "submit" and "$default"
    # When a message is routed
    # Then the expression's value picks a custom route, else $default
    assert select_route(body, expression, {"submit", "$default"}) == route


def test_route_selection_without_default_selects_nothing():
    # Given only a custom route
    # When a message names no known action
    # Then nothing is selected (the client gets "Forbidden")
    assert select_route('{"action": "x"}', "$request.body.action", {"submit"}) is None
