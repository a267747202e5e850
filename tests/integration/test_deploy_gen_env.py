"""tools.gen_env against a CloudFormation stack in moto: outputs -> the clients' env file."""

from __future__ import annotations

import json
import stat

import boto3
import pytest
from moto import mock_aws

from clients.env import REQUIRED, load_endpoints, parse_env
from tools import gen_env
from tools.env_file import env_key
from tools.inventory import template

STACK_TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {"ApiKeyId": {"Type": "String"}},
    "Resources": {"ResultsQueue": {"Type": "AWS::SQS::Queue"}},
    "Outputs": {
        "ResultsQueueUrl": {"Value": {"Ref": "ResultsQueue"}},
        "RestApiUrl": {
            "Value": {"Fn::Sub": "https://abc123.execute-api.${AWS::Region}.amazonaws.com/prod"}
        },
        "WebsocketUrl": {"Value": "wss://ws123.execute-api.us-east-1.amazonaws.com/prod"},
        "RestApiKeyId": {"Value": {"Ref": "ApiKeyId"}},
    },
}


@pytest.fixture
def stack():
    with mock_aws():
        key = boto3.client("apigateway").create_api_key(name="pipeline-key", enabled=True)
        boto3.client("cloudformation").create_stack(
            StackName="pipeline",
            TemplateBody=json.dumps(STACK_TEMPLATE),
            Parameters=[{"ParameterKey": "ApiKeyId", "ParameterValue": key["id"]}],
        )
        yield key


def test_env_file_has_every_output_the_api_key_value_and_the_region(stack, tmp_path):
    # Given a deployed stack with outputs and an API key
    target = tmp_path / ".env.cloud"

    # When gen_env writes its env file
    assert gen_env.main(["--stack-name", "pipeline", "--output", str(target)]) == 0

    # Then every output is there under the local cloud's key, with the key's value and the region
    values = parse_env(target.read_text(), source=str(target))
    assert values["REST_API_URL"] == "https://abc123.execute-api.us-east-1.amazonaws.com/prod"
    assert values["WEBSOCKET_URL"] == "wss://ws123.execute-api.us-east-1.amazonaws.com/prod"
    assert (
        values["RESULTS_QUEUE_URL"].endswith("/ResultsQueue")
        or "ResultsQueue" in (values["RESULTS_QUEUE_URL"])
    )
    assert values["REST_API_KEY_ID"] == stack["id"]
    assert values["REST_API_KEY"] == stack["value"]
    assert values["AWS_REGION"] == "us-east-1"
    # No endpoint override: against AWS, boto3 picks its own endpoints.
    assert "AWS_ENDPOINT_URL" not in values


def test_the_clients_read_the_file_unchanged(stack, tmp_path):
    # Given the env file of a deployed stack
    target = tmp_path / ".env.cloud"
    gen_env.main(["--stack-name", "pipeline", "--output", str(target)])

    # When a CLI loads its endpoints from it
    endpoints = load_endpoints(target, environ={})

    # Then it has the REST URL, the WebSocket URL and the API key
    assert endpoints.rest_api_url.endswith("/prod")
    assert endpoints.websocket_url.startswith("wss://")
    assert endpoints.rest_api_key == stack["value"]


def test_env_file_is_private_because_it_holds_the_api_key(stack, tmp_path):
    # Given / When
    target = tmp_path / ".env.cloud"
    gen_env.main(["--stack-name", "pipeline", "--output", str(target)])

    # Then only its owner can read it
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_web_config_has_the_same_keys(stack, tmp_path):
    # Given a web console build folder
    env_path, config_path = tmp_path / ".env.cloud", tmp_path / "web" / "dist" / "config.json"

    # When gen_env writes the console's config too
    gen_env.main(
        ["--stack-name", "pipeline", "--output", str(env_path), "--web-config", str(config_path)]
    )

    # Then the console reads the same values as the CLIs
    assert json.loads(config_path.read_text()) == parse_env(env_path.read_text())


def test_unknown_stack_is_a_clear_error_and_writes_nothing(tmp_path, capsys):
    # Given no stack of that name
    target = tmp_path / ".env.cloud"
    with mock_aws():
        # When gen_env is asked for it
        code = gen_env.main(["--stack-name", "nope", "--output", str(target)])

    # Then it exits 1, says what to do, and leaves no file
    assert code == 1
    assert "stack 'nope' does not exist in us-east-1" in capsys.readouterr().err
    assert not target.exists()


def test_a_deleted_api_key_is_a_clear_error(stack, capsys, tmp_path):
    # Given the stack's API key was deleted behind its back
    boto3.client("apigateway").delete_api_key(apiKey=stack["id"])

    # When gen_env runs
    code = gen_env.main(["--stack-name", "pipeline", "--output", str(tmp_path / "env")])

    # Then it names the key it could not read
    assert code == 1
    assert f"cannot read the value of API key {stack['id']}" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(template().outputs))
def test_every_template_output_has_a_plain_env_key(name):
    # Given an output of the project's template / When it is named as an env key
    key = env_key(name)

    # Then it is UPPER_SNAKE of the output name (the local cloud uses the same function)
    assert key.replace("_", "").isalnum()
    assert key == key.upper()
    assert key.replace("_", "") == name.upper()


def test_the_template_outputs_give_the_clients_every_key_they_need():
    # Given the project's template / When its outputs are named as env keys
    keys = {env_key(name) for name in template().outputs}

    # Then the clients' required keys and the API key's id (gen_env reads its value) are there
    assert set(REQUIRED) <= keys
    assert env_key(gen_env.API_KEY_ID_OUTPUT) in keys
