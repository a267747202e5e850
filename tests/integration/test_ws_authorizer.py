"""WsAuthorizerFunction against moto's Secrets Manager: the sample $connect authorizer events."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest
from moto import mock_aws

from pipeline_common import aws, tokens
from tests.support.functions import load_function
from tests.support.test_api_aws import (
    SAMPLE_CLIENT_ID,
    SAMPLE_SIGNING_KEY,
    FakeLambdaContext,
    create_signing_secret,
    load_event,
)


@pytest.fixture
def authorizer(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    with mock_aws():
        aws.clear_clients()
        tokens.forget_signing_keys()
        monkeypatch.setenv("TOKEN_SECRET_ARN", create_signing_secret())
        yield load_function("ws_authorizer")
    aws.clear_clients()
    tokens.forget_signing_keys()


def decide(authorizer: ModuleType, event: dict) -> dict:
    return authorizer.lambda_handler(event, FakeLambdaContext())


def effect_of(answer: dict) -> str:
    [statement] = answer["policyDocument"]["Statement"]
    return str(statement["Effect"])


def test_a_valid_token_is_allowed_with_the_client_in_context(authorizer):
    event = load_event("ws_authorizer_connect")

    answer = decide(authorizer, event)

    assert effect_of(answer) == "Allow"
    assert answer["principalId"] == SAMPLE_CLIENT_ID
    assert answer["context"] == {"client_id": SAMPLE_CLIENT_ID}
    [statement] = answer["policyDocument"]["Statement"]
    assert statement["Resource"] == event["methodArn"]
    assert statement["Action"] == "execute-api:Invoke"


def test_a_token_signed_with_another_key_is_denied(authorizer):
    answer = decide(authorizer, load_event("ws_authorizer_bad_token"))

    assert effect_of(answer) == "Deny"
    assert "context" not in answer


def test_a_missing_token_is_denied(authorizer):
    assert effect_of(decide(authorizer, load_event("ws_authorizer_missing_token"))) == "Deny"


def test_another_clients_token_is_denied(authorizer):
    # Given the sample token presented with a different client id
    event = load_event("ws_authorizer_connect")
    event["queryStringParameters"]["client_id"] = "a" * 32

    assert effect_of(decide(authorizer, event)) == "Deny"


def test_an_expired_token_is_denied(authorizer):
    # Given a token that was valid for an hour, a day ago
    issued = tokens.sign(
        SAMPLE_CLIENT_ID, SAMPLE_SIGNING_KEY.encode(), ttl_seconds=3600, now=1_000_000_000
    )
    event = load_event("ws_authorizer_connect")
    event["queryStringParameters"]["token"] = issued.token

    assert effect_of(decide(authorizer, event)) == "Deny"


def test_a_malformed_client_id_is_denied_without_reading_the_secret(authorizer):
    event = load_event("ws_authorizer_connect")
    event["queryStringParameters"]["client_id"] = "../../admin"

    answer = decide(authorizer, event)

    assert effect_of(answer) == "Deny"
    assert answer["principalId"] == "anonymous"
