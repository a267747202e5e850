"""The WebSocket REQUEST authorizer: identity-source checks, its event, and policy evaluation.

Outcomes, as on API Gateway: a missing or empty identity source is a 401 without calling the
function; the function raising ``Unauthorized`` is a 401, raising anything else (or answering
something that is not a valid policy) a 500; a policy that does not Allow ``execute-api:Invoke``
on the methodArn, or that Denies it, a 403.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from localcloud.gateway.errors import MalformedResponse
from localcloud.gateway.http_common import MultiValues, SingleValues

_HEADER = "route.request.header."
_QUERY = "route.request.querystring."
_STAGE_VARIABLE = "stageVariables."
_CONTEXT = "context."


def method_arn(region: str, account_id: str, api_id: str, stage: str) -> str:
    return f"arn:aws:execute-api:{region}:{account_id}:{api_id}/{stage}/$connect"


def missing_identity_sources(
    identity_sources: Iterable[str], headers: SingleValues, query: SingleValues
) -> list[str]:
    """The identity sources this request lacks (absent or empty)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    missing = []
    for source in identity_sources:
        if source.startswith(_HEADER):
            value = lowered.get(source[len(_HEADER) :].lower())
        elif source.startswith(_QUERY):
            value = query.get(source[len(_QUERY) :])
        elif source.startswith(_STAGE_VARIABLE):
            value = None  # the local cloud declares no stage variables
        elif source.startswith(_CONTEXT):
            continue  # context variables always exist on the gateway's side
        else:
            raise ValueError(f"unsupported identity source {source!r}")
        if not value:
            missing.append(source)
    return missing


def build_authorizer_event(
    *,
    arn: str,
    headers: SingleValues,
    multi_headers: MultiValues,
    query: SingleValues,
    multi_query: MultiValues,
    request_context: dict,
) -> dict:
    event: dict[str, Any] = {
        "type": "REQUEST",
        "methodArn": arn,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "stageVariables": {},
        "requestContext": request_context,
    }
    if query:
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = multi_query
    return event


@dataclass(frozen=True)
class AuthorizerDecision:
    allowed: bool
    principal_id: str | None
    context: dict[str, Any]


@lru_cache(maxsize=256)
def _pattern(glob: str) -> re.Pattern[str]:
    # IAM wildcards: '*' any run of characters (slashes included), '?' exactly one.
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile("".join(parts), re.DOTALL)


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _statement_matches(statement: dict, arn: str) -> bool:
    actions = _as_list(statement.get("Action"))
    resources = _as_list(statement.get("Resource"))
    if not all(isinstance(item, str) for item in [*actions, *resources]):
        raise MalformedResponse("policy Action and Resource must be strings")
    action_ok = any(_pattern(action.lower()).fullmatch("execute-api:invoke") for action in actions)
    return action_ok and any(_pattern(resource).fullmatch(arn) for resource in resources)


def _validated_context(context: Any) -> dict[str, Any]:
    if context is None:
        return {}
    if not isinstance(context, dict):
        raise MalformedResponse("authorizer context must be an object")
    for key, value in context.items():
        # API Gateway rejects nested objects and arrays in the context map.
        if value is not None and not isinstance(value, str | int | float | bool):
            raise MalformedResponse(f"authorizer context value {key!r} must be a scalar")
    return dict(context)


def evaluate_policy(result: Any, arn: str) -> AuthorizerDecision:
    """Allow only if some statement allows the methodArn and none denies it."""
    if not isinstance(result, dict):
        raise MalformedResponse("authorizer must return an object")
    principal = result.get("principalId")
    if not isinstance(principal, str | int) or isinstance(principal, bool):
        raise MalformedResponse("authorizer response lacks principalId")
    document = result.get("policyDocument")
    if not isinstance(document, dict):
        raise MalformedResponse("authorizer response lacks policyDocument")
    statements = _as_list(document.get("Statement"))
    if not all(isinstance(statement, dict) for statement in statements):
        raise MalformedResponse("policy statements must be objects")
    context = _validated_context(result.get("context"))
    allowed = denied = False
    for statement in statements:
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise MalformedResponse(f"policy Effect must be Allow or Deny, got {effect!r}")
        if _statement_matches(statement, arn):
            allowed |= effect == "Allow"
            denied |= effect == "Deny"
    return AuthorizerDecision(
        allowed=allowed and not denied, principal_id=str(principal), context=context
    )
