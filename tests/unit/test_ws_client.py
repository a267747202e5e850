"""The WebSocket client's pure parts: endpoints file, client cache, URLs, backoff, matching."""

from __future__ import annotations

import json
import random
from itertools import islice
from pathlib import Path

import pytest

from clients import ws_client
from clients.env import EnvFileError, load_endpoints, parse_env

JOB = "7c9e6679742540de944be07fc1f90ae7"


def test_env_file_is_parsed_with_comments_exports_and_quotes():
    text = "# written by gen_env\n\nexport REST_API_URL='https://x/prod/'\nWEBSOCKET_URL=\"wss://y/prod\"\nREST_API_KEY=k=1\n"

    assert parse_env(text) == {
        "REST_API_URL": "https://x/prod/",
        "WEBSOCKET_URL": "wss://y/prod",
        "REST_API_KEY": "k=1",
    }


def test_a_malformed_line_names_its_place():
    with pytest.raises(EnvFileError, match=r"\.env:2"):
        parse_env("A=1\nnot a pair\n", source=".env")


def test_endpoints_come_from_the_file_and_the_environment_overrides(tmp_path: Path):
    env_file = tmp_path / ".env.local"
    env_file.write_text("REST_API_URL=https://x/prod/\nWEBSOCKET_URL=wss://y/prod\n")

    endpoints = load_endpoints(env_file, environ={"WEBSOCKET_URL": "ws://127.0.0.1:1/prod"})

    assert endpoints.rest_api_url == "https://x/prod"
    assert endpoints.websocket_url == "ws://127.0.0.1:1/prod"
    assert endpoints.rest_api_key is None


def test_a_missing_env_file_says_how_to_make_one(tmp_path: Path):
    with pytest.raises(EnvFileError, match="gen_env"):
        load_endpoints(tmp_path / "absent.env", environ={})


def test_a_missing_key_is_named(tmp_path: Path):
    env_file = tmp_path / ".env.local"
    env_file.write_text("REST_API_URL=https://x/prod\n")

    with pytest.raises(EnvFileError, match="WEBSOCKET_URL"):
        load_endpoints(env_file, environ={})


def test_the_cache_keeps_one_client_per_api_and_is_private(tmp_path: Path):
    cache = ws_client.ClientCache(tmp_path / "sub" / "clients.json")
    client = ws_client.CachedClient("c" * 32, "v1.2.sig", 2_000_000_000.0)

    cache.put("https://x/prod", client)

    assert cache.get("https://x/prod") == client
    assert cache.get("https://other/prod") is None
    assert (cache.path.stat().st_mode & 0o777) == 0o600


def test_a_corrupt_cache_is_treated_as_empty(tmp_path: Path):
    path = tmp_path / "clients.json"
    path.write_text("{not json")

    assert ws_client.ClientCache(path).get("https://x/prod") is None


def test_a_token_close_to_expiry_is_not_reused():
    client = ws_client.CachedClient("c" * 32, "t", token_expires_at=10_000.0)

    assert client.usable(now=10_000.0 - ws_client.TOKEN_MARGIN_SECONDS - 1)
    assert not client.usable(now=10_000.0 - ws_client.TOKEN_MARGIN_SECONDS + 1)


def test_websocket_url_carries_client_and_escaped_token():
    url = ws_client.websocket_url("wss://y/prod", "c" * 32, "v1.9.a+b/c=")

    assert url == f"wss://y/prod?client_id={'c' * 32}&token=v1.9.a%2Bb%2Fc%3D"


def test_backoff_grows_to_the_cap_with_jitter():
    delays = list(islice(ws_client.backoff_delays(initial=1, cap=8, rng=random.Random(7)), 8))

    bounds = [1, 2, 4, 8, 8, 8, 8, 8]
    assert all(bound / 10 <= delay <= bound for delay, bound in zip(delays, bounds, strict=True))
    assert len(set(delays)) == len(delays)


def test_only_the_result_of_our_job_matches():
    ours = {"kind": "job.result", "job_id": JOB, "status": "DONE"}

    assert ws_client.result_for(json.dumps(ours), JOB) == ours
    assert ws_client.result_for(json.dumps({**ours, "job_id": "another-job-1"}), JOB) is None
    assert ws_client.result_for('{"message": "Forbidden"}', JOB) is None
    assert ws_client.result_for("not json", JOB) is None
    assert ws_client.result_for("[1, 2]", JOB) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://b.s3.amazonaws.com/jobs/p1/j/overlay.png?X-Amz-Signature=1", "overlay.png"),
        ("http://127.0.0.1:5000/out/jobs/p1/j/result.json?sig", "result.json"),
        ("https://b/jobs/..%2F..%2Fetc%2Fpasswd", "_2F.._2Fetc_2Fpasswd"),
        ("https://b/", "fallback.bin"),
    ],
)
def test_output_file_names_stay_inside_the_folder(url, expected):
    name = ws_client.output_file_name(url, "fallback.bin")

    assert name == expected
    assert "/" not in name
    assert not name.startswith(".")


def test_job_request_from_arguments():
    args = ws_client.parse_args(
        ["--algo", "processing_3", "--study", "s1", "--series", "r1", "--scope", "series"]
    )

    assert ws_client.job_request(args, "c" * 32, JOB) == {
        "client_id": "c" * 32,
        "job_id": JOB,
        "pacs": {"study_id": "s1", "series_id": "r1", "scope": "series"},
    }


def test_image_scope_needs_an_image(capsys):
    with pytest.raises(SystemExit):
        ws_client.parse_args(["--algo", "processing_1", "--study", "s1", "--series", "r1"])

    assert "--image is required" in capsys.readouterr().err
