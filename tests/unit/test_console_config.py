"""web/config_from_env.py: the console's config.json holds the endpoints and the user pool,
nothing else (no credential: every user signs in)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "web" / "config_from_env.py"
spec = importlib.util.spec_from_file_location("config_from_env", SCRIPT)
assert spec is not None
assert spec.loader is not None
config_from_env = importlib.util.module_from_spec(spec)
spec.loader.exec_module(config_from_env)


def test_only_the_endpoints_and_the_user_pool_reach_the_config(tmp_path, capsys):
    # Given an env file of stack outputs with credentials in it
    env = tmp_path / ".env.cloud"
    env.write_text(
        "# outputs\nREST_API_URL=https://abc.execute-api.us-east-1.amazonaws.com/prod\n"
        "WEBSOCKET_URL=wss://def.execute-api.us-east-1.amazonaws.com/prod\n"
        "SERVICES_API_URL=https://svc.execute-api.us-east-1.amazonaws.com\n"
        "PACS_API_URL=https://svc.execute-api.us-east-1.amazonaws.com/pacs\n"
        "USER_POOL_ID='us-east-1_AbCd'\nUSER_POOL_CLIENT_ID=app123\nAWS_REGION=us-east-1\n"
        "AWS_SECRET_ACCESS_KEY=secret\nDEMO_USERNAME=demo\nDEMO_PASSWORD=s3cret!\n"
        "REST_API_KEY=legacy\n"
    )

    # When the config is written
    assert config_from_env.main([str(env)]) == 0

    # Then it has the endpoints and the pool, unquoted, and no credential of any kind
    config = json.loads(capsys.readouterr().out)
    assert set(config) == {
        "REST_API_URL",
        "WEBSOCKET_URL",
        "SERVICES_API_URL",
        "PACS_API_URL",
        "USER_POOL_ID",
        "USER_POOL_CLIENT_ID",
        "AWS_REGION",
    }
    assert config["USER_POOL_ID"] == "us-east-1_AbCd"


def test_a_local_cloud_env_file_gives_the_page_its_cognito_endpoint(tmp_path, capsys):
    # Given the local cloud's env file (moto answers every service, Cognito included)
    env = tmp_path / ".env.local"
    env.write_text(
        "REST_API_URL=http://127.0.0.1:1/prod\nWEBSOCKET_URL=ws://127.0.0.1:2/prod\n"
        "PACS_API_URL=http://127.0.0.1:3/pacs\nUSER_POOL_ID=us-east-1_x\n"
        "USER_POOL_CLIENT_ID=c\nAWS_ENDPOINT_URL=http://127.0.0.1:5000\n"
    )

    # When / Then
    assert config_from_env.main([str(env)]) == 0
    config = json.loads(capsys.readouterr().out)
    assert config["COGNITO_ENDPOINT_URL"] == "http://127.0.0.1:5000"
    assert "AWS_ENDPOINT_URL" not in config


def test_a_missing_endpoint_is_an_error_naming_it(tmp_path, capsys):
    env = tmp_path / ".env.cloud"
    env.write_text("REST_API_URL=https://x/prod\n")

    assert config_from_env.main([str(env)]) == 1
    assert (
        "WEBSOCKET_URL, PACS_API_URL, USER_POOL_ID, USER_POOL_CLIENT_ID" in capsys.readouterr().err
    )


def test_the_local_cloud_serves_the_same_keys_as_a_deployed_console():
    # Given every output a local cloud has, bucket and table names included
    from localcloud.cloud import _console_config

    outputs = {
        "REST_API_URL": "http://127.0.0.1:1/prod",
        "WEBSOCKET_URL": "ws://127.0.0.1:2/prod",
        "PACS_API_URL": "http://127.0.0.1:3/pacs",
        "USER_POOL_ID": "us-east-1_AbCd",
        "USER_POOL_CLIENT_ID": "app123",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
        "PACS_BUCKET_NAME": "e2e-pacsbucket",
        "JOBS_TABLE_NAME": "e2e-jobs",
    }

    # When the local cloud builds the page's config with the project's rule
    config = _console_config(SCRIPT, outputs)

    # Then only the page's keys are served, with moto as the Cognito endpoint
    assert config == config_from_env.console_config(outputs)
    assert "PACS_BUCKET_NAME" not in config
    assert "JOBS_TABLE_NAME" not in config
    assert config["COGNITO_ENDPOINT_URL"] == "http://127.0.0.1:5000"
