"""web/config_from_env.py: the console's config.json holds the endpoints and nothing else."""

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


def test_only_the_endpoints_reach_the_config(tmp_path, capsys):
    # Given an env file of stack outputs with credentials in it
    env = tmp_path / ".env.cloud"
    env.write_text(
        "# outputs\nREST_API_URL=https://abc.execute-api.us-east-1.amazonaws.com/prod\n"
        "REST_API_KEY='k3y'\nWEBSOCKET_URL=wss://def.execute-api.us-east-1.amazonaws.com/prod\n"
        "PACS_API_URL=http://alb.example/pacs\nAWS_SECRET_ACCESS_KEY=secret\n"
    )

    # When the config is written
    assert config_from_env.main([str(env)]) == 0

    # Then it has the four endpoint keys, unquoted, and no credential
    config = json.loads(capsys.readouterr().out)
    assert set(config) == {"REST_API_URL", "REST_API_KEY", "WEBSOCKET_URL", "PACS_API_URL"}
    assert config["REST_API_KEY"] == "k3y"


def test_a_missing_endpoint_is_an_error_naming_it(tmp_path, capsys):
    env = tmp_path / ".env.cloud"
    env.write_text("REST_API_URL=https://x/prod\n")

    assert config_from_env.main([str(env)]) == 1
    assert "WEBSOCKET_URL, PACS_API_URL" in capsys.readouterr().err
