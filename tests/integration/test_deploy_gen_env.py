"""tools.gen_env against a CloudFormation stack in moto: outputs -> the clients' env file."""

from __future__ import annotations

import json
import stat

import boto3
import pytest

from clients.env import LOGIN_KEYS, REQUIRED, load_endpoints, parse_env
from tools import gen_env
from tools.env_file import env_key
from tools.inventory import template

STACK_TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {"ResultsQueue": {"Type": "AWS::SQS::Queue"}},
    "Outputs": {
        "ResultsQueueUrl": {"Value": {"Ref": "ResultsQueue"}},
        "RestApiUrl": {
            "Value": {"Fn::Sub": "https://abc123.execute-api.${AWS::Region}.amazonaws.com/prod"}
        },
        "WebsocketUrl": {"Value": "wss://ws123.execute-api.us-east-1.amazonaws.com/prod"},
        "ServicesApiUrl": {"Value": "https://svc123.execute-api.us-east-1.amazonaws.com"},
        "PacsApiUrl": {"Value": "https://svc123.execute-api.us-east-1.amazonaws.com/pacs"},
        "UserPoolId": {"Value": "us-east-1_AbCdEf"},
        "UserPoolClientId": {"Value": "app0client0id"},
    },
}


@pytest.fixture
def stack(mocked_aws: None):
    boto3.client("cloudformation").create_stack(
        StackName="pipeline", TemplateBody=json.dumps(STACK_TEMPLATE)
    )
    return


def test_env_file_has_every_output_and_the_region_and_no_credential(stack, tmp_path):
    # Given a deployed stack with outputs
    target = tmp_path / ".env.cloud"

    # When gen_env writes its env file
    assert gen_env.main(["--stack-name", "pipeline", "--output", str(target)]) == 0

    # Then every output is there under the local cloud's key, with the region
    values = parse_env(target.read_text(), source=str(target))
    assert values["REST_API_URL"] == "https://abc123.execute-api.us-east-1.amazonaws.com/prod"
    assert values["WEBSOCKET_URL"] == "wss://ws123.execute-api.us-east-1.amazonaws.com/prod"
    assert "ResultsQueue" in values["RESULTS_QUEUE_URL"]
    assert values["USER_POOL_ID"] == "us-east-1_AbCdEf"
    assert values["USER_POOL_CLIENT_ID"] == "app0client0id"
    assert values["SERVICES_API_URL"].startswith("https://svc123.")
    assert values["PACS_API_URL"].endswith("/pacs")
    assert values["AWS_REGION"] == "us-east-1"
    # and the one boto3 reads, so `source` the file then `boto3.client("s3")` has a region
    assert values["AWS_DEFAULT_REGION"] == "us-east-1"
    # No API key (users log in) and no endpoint override (against AWS boto3 picks its own).
    assert not any("API_KEY" in key for key in values)
    assert "AWS_ENDPOINT_URL" not in values


def test_the_clients_read_the_file_unchanged(stack, tmp_path):
    # Given the env file of a deployed stack
    target = tmp_path / ".env.cloud"
    gen_env.main(["--stack-name", "pipeline", "--output", str(target)])

    # When a CLI loads its endpoints from it
    endpoints = load_endpoints(target, environ={})

    # Then it has the REST and WebSocket URLs and the user pool to log in to
    assert endpoints.rest_api_url.endswith("/prod")
    assert endpoints.websocket_url.startswith("wss://")
    assert endpoints.user_pool_id == "us-east-1_AbCdEf"
    assert endpoints.user_pool_client_id == "app0client0id"


def test_a_rewrite_keeps_the_users_credentials_and_the_file_stays_private(stack, tmp_path):
    # Given an env file where tools.users wrote a user's credentials
    target = tmp_path / ".env.cloud"
    gen_env.main(["--stack-name", "pipeline", "--output", str(target)])
    with target.open("a") as env:
        env.write("DEMO_USERNAME=ops\nDEMO_PASSWORD=Pw-1aA!xyzxyz\n")

    # When the outputs are written again
    assert gen_env.main(["--stack-name", "pipeline", "--output", str(target)]) == 0

    # Then the credentials are still there, and only the owner can read the file
    values = parse_env(target.read_text())
    assert (values["DEMO_USERNAME"], values["DEMO_PASSWORD"]) == ("ops", "Pw-1aA!xyzxyz")
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


def test_unknown_stack_is_a_clear_error_and_writes_nothing(mocked_aws: None, tmp_path, capsys):
    # Given no stack of that name
    target = tmp_path / ".env.cloud"
    # When gen_env is asked for it
    code = gen_env.main(["--stack-name", "nope", "--output", str(target)])

    # Then it exits 1, says what to do, and leaves no file
    assert code == 1
    assert "stack 'nope' does not exist in us-east-1" in capsys.readouterr().err
    assert not target.exists()


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

    # Then the clients' required keys and the user pool they log in to are there, and no API key
    assert set(REQUIRED) <= keys
    assert set(LOGIN_KEYS) <= keys
    assert not any("API_KEY" in key for key in keys)
