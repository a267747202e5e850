"""The WebSocket client's pure parts: endpoints file, client cache, ticket URLs, backoff,
matching, error words."""

from __future__ import annotations

import json
import random
from itertools import islice
from pathlib import Path

import pytest
import requests

from clients import ws_client
from clients.env import Endpoints, EnvFileError, load_endpoints, parse_env

JOB = "7c9e6679742540de944be07fc1f90ae7"


def test_env_file_is_parsed_with_comments_exports_and_quotes():
    text = "# written by gen_env\n\nexport REST_API_URL='https://x/prod/'\nWEBSOCKET_URL=\"wss://y/prod\"\nDEMO_PASSWORD=k=1\n"

    assert parse_env(text) == {
        "REST_API_URL": "https://x/prod/",
        "WEBSOCKET_URL": "wss://y/prod",
        "DEMO_PASSWORD": "k=1",
    }


def test_a_malformed_line_names_its_place():
    with pytest.raises(EnvFileError, match=r"\.env:2"):
        parse_env("A=1\nnot a pair\n", source=".env")


def test_endpoints_come_from_the_file_and_the_environment_overrides(tmp_path: Path):
    env_file = tmp_path / ".env.local"
    env_file.write_text(
        "REST_API_URL=https://x/prod/\nWEBSOCKET_URL=wss://y/prod\n"
        "USER_POOL_ID=eu-west-1_Abc\nUSER_POOL_CLIENT_ID=app1\n"
        "SERVICES_API_URL=https://svc/\nPACS_API_URL=https://svc/pacs\nAWS_REGION=eu-west-1\n"
    )

    endpoints = load_endpoints(env_file, environ={"WEBSOCKET_URL": "ws://127.0.0.1:1/prod"})

    assert endpoints == Endpoints(
        rest_api_url="https://x/prod",
        websocket_url="ws://127.0.0.1:1/prod",
        user_pool_id="eu-west-1_Abc",
        user_pool_client_id="app1",
        region="eu-west-1",
        services_api_url="https://svc",
        pacs_api_url="https://svc/pacs",
        aws_endpoint_url=None,
    )
    assert not hasattr(endpoints, "rest_api_key")  # no shared credential any more


def test_a_missing_env_file_says_how_to_make_one(tmp_path: Path):
    with pytest.raises(EnvFileError, match="gen_env"):
        load_endpoints(tmp_path / "absent.env", environ={})


def test_a_missing_key_is_named(tmp_path: Path):
    env_file = tmp_path / ".env.local"
    env_file.write_text("REST_API_URL=https://x/prod\n")

    with pytest.raises(EnvFileError, match="WEBSOCKET_URL"):
        load_endpoints(env_file, environ={})


def test_the_cache_keeps_one_client_per_api_and_user_and_is_private(tmp_path: Path):
    cache = ws_client.ClientCache(tmp_path / "sub" / "clients.json")
    client = ws_client.CachedClient("c" * 32)
    alice = ws_client.ClientCache.key("https://x/prod", "alice")

    cache.put(alice, client)

    assert cache.get(alice) == client
    assert cache.get(ws_client.ClientCache.key("https://x/prod", "bob")) is None
    assert cache.get(ws_client.ClientCache.key("https://other/prod", "alice")) is None
    assert (cache.path.stat().st_mode & 0o777) == 0o600
    cache.drop(alice)
    assert cache.get(alice) is None


def test_a_corrupt_cache_is_treated_as_empty(tmp_path: Path):
    path = tmp_path / "clients.json"
    path.write_text("{not json")

    assert ws_client.ClientCache(path).get("https://x/prod alice") is None


def test_websocket_url_carries_only_the_escaped_ticket():
    url = ws_client.websocket_url("wss://y/prod", "a+b/c=")

    assert url == "wss://y/prod?ticket=a%2Bb%2Fc%3D"


def test_every_connection_gets_its_own_ticket():
    # Given a client provisioned with a first ticket
    class Api:
        minted = 0

        def ticket(self, client_id: str) -> dict[str, str]:
            self.minted += 1
            return {"ticket": f"t{self.minted}", "client_id": client_id}

    api = Api()
    client = ws_client.PushClient(api, "c" * 32, first_ticket="t0")  # type: ignore[arg-type]
    connect_url = client.connect_url("wss://y/prod")

    # When it connects three times
    urls = [connect_url() for _ in range(3)]

    # Then the first ticket is used once, then a fresh one is minted for each connection
    assert urls == [f"wss://y/prod?ticket=t{n}" for n in range(3)]
    assert api.minted == 2


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


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"error": {"code": "not_found", "message": "no client"}}, "not_found: no client"),
        ({"message": "Unauthorized"}, "Unauthorized"),
        ({"message": "The incoming token has expired"}, "The incoming token has expired"),
    ],
)
def test_errors_keep_the_words_of_the_api_and_the_gateway(body, expected):
    response = requests.Response()
    response.status_code = 401
    response._content = json.dumps(body).encode()

    assert ws_client.error_detail(response) == expected


class _FakeResultsApi:
    """GET /results over a list: the cursor is the count already delivered (as opaque text)."""

    def __init__(self, job_ids: list[str], fail_once: bool = False):
        self.job_ids = job_ids
        self.fail_once = fail_once
        self.calls: list[tuple[str, int]] = []

    def results_page(self, client_id, after="", *, limit=100, wait_seconds=0):
        self.calls.append((after, wait_seconds))
        start = int(after or 0)
        page = self.job_ids[start : start + limit]
        if self.fail_once:
            self.fail_once = False
            raise requests.ConnectionError("the answer was lost")
        return {
            "results": [{"job_id": job_id} for job_id in page],
            "next_cursor": str(start + len(page)),
            "more": start + len(page) < len(self.job_ids),
        }


def test_the_result_feed_follows_more_and_resumes_from_its_cursor():
    # Given five finished jobs, read two at a time
    api = _FakeResultsApi([f"job{i}" for i in range(5)])
    feed = ws_client.ResultFeed(api, "client0000000001")

    # When the feed polls (waiting), and polls again
    first = feed.poll(wait_seconds=10, limit=2)
    second = feed.poll(limit=2)

    # Then the backlog comes back in one call, in order, without waiting after the first page
    assert [r["job_id"] for r in first] == [f"job{i}" for i in range(5)]
    assert [call[1] for call in api.calls] == [10, 0, 0, 0]
    assert second == []
    assert feed.cursor == "5"


def test_a_lost_answer_leaves_the_cursor_so_the_retry_loses_nothing():
    # Given an API whose first answer is lost
    api = _FakeResultsApi(["job0", "job1"], fail_once=True)
    feed = ws_client.ResultFeed(api, "client0000000001")

    # When the feed polls, fails, and polls again
    with pytest.raises(requests.ConnectionError):
        feed.poll()
    results = feed.poll()

    # Then the retry asked from the same cursor and got everything
    assert [call[0] for call in api.calls] == ["", ""]
    assert [r["job_id"] for r in results] == ["job0", "job1"]
