"""``DeployedStack`` (what the shared e2e scenarios run against with AWS_SAM_STACK_NAME) over a
CloudFormation stack and a user pool in moto: the template's output names, the CLIs' endpoints,
and users it makes that are gone after ``close``."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.support.stack_interface import DeployedStack, Stack
from tools.gen_env import StackOutputsError


@pytest.fixture
def pool(mocked_aws: None) -> dict[str, str]:
    cognito = boto3.client("cognito-idp")
    pool_id = cognito.create_user_pool(PoolName="users")["UserPool"]["Id"]
    cognito.create_group(UserPoolId=pool_id, GroupName="admins")
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="cli", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    return {"UserPoolId": pool_id, "UserPoolClientId": client_id}


@pytest.fixture
def deployed(pool: dict[str, str]) -> DeployedStack:
    outputs = {
        **pool,
        "RestApiUrl": "https://abc123.execute-api.us-east-1.amazonaws.com/prod",
        "WebsocketUrl": "wss://ws123.execute-api.us-east-1.amazonaws.com/prod",
        "PacsApiUrl": "https://svc123.execute-api.us-east-1.amazonaws.com/pacs",
    }
    body = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {"ResultsQueue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {name: {"Value": value} for name, value in outputs.items()},
    }
    boto3.client("cloudformation").create_stack(StackName="pipeline", TemplateBody=json.dumps(body))
    return DeployedStack("pipeline", boto3.session.Session(region_name="us-east-1"))


def test_outputs_go_by_the_templates_names_and_endpoints_have_no_local_endpoint(deployed):
    # Given a deployed stack seen through the interface the scenarios use
    stack: Stack = deployed

    # When a scenario asks for its outputs and its endpoints
    endpoints = stack.endpoints()

    # Then they are the template's output names, and the CLIs reach AWS itself
    assert stack.outputs["RestApiUrl"] == "https://abc123.execute-api.us-east-1.amazonaws.com/prod"
    assert endpoints.websocket_url == "wss://ws123.execute-api.us-east-1.amazonaws.com/prod"
    assert endpoints.pacs_api_url == stack.outputs["PacsApiUrl"]
    assert endpoints.aws_endpoint_url is None
    assert stack.task_timeout >= 600


def test_users_it_makes_are_logged_in_and_deleted_on_close(deployed, pool):
    # Given an ordinary user and an admin made on the deployed stack
    alice = deployed.new_user("alice")
    admin = deployed.new_user("admin", admin=True)
    cognito = boto3.client("cognito-idp")
    names = {u["Username"] for u in cognito.list_users(UserPoolId=pool["UserPoolId"])["Users"]}
    assert names == {alice.username, admin.username}
    assert alice.id_token
    assert alice.sub
    assert admin.admin

    # When the suite ends
    deployed.close()

    # Then the pool is as it was
    assert cognito.list_users(UserPoolId=pool["UserPoolId"])["Users"] == []


def test_given_user_logs_in_the_named_user_and_none_without_one(deployed, monkeypatch):
    # Given no user named, then a user of the pool named by PIPELINE_USERNAME/PASSWORD
    assert deployed.given_user() is None
    made = deployed.new_user("operator")
    monkeypatch.setenv("PIPELINE_USERNAME", made.username)
    monkeypatch.setenv("PIPELINE_PASSWORD", made.password)

    # When the suite logs in as that user
    given = deployed.given_user()

    # Then it is that user, with its own sub
    assert given is not None
    assert (given.username, given.sub) == (made.username, made.sub)


def test_a_stack_that_does_not_exist_is_a_clear_error(mocked_aws: None):
    with pytest.raises(StackOutputsError, match="deploy it first"):
        DeployedStack("nope", boto3.session.Session(region_name="us-east-1"))
