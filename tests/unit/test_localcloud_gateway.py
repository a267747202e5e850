"""The local cloud's REST API emulation over real HTTP: the proxy event, routing, gateway errors.

Lambda is a plain-Python stand-in here (the gateway is what is under test); every request goes
through a real aiohttp server on a free port.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
import requests

from localcloud.gateway import Gateway, RestRoute
from tests.unit.test_localcloud_gateway_support import FakeFunctions

API = "JobsApi"
API_KEY = "local-test-key-0123456789"
DICOM = Path(pydicom.__file__).parent / "data" / "test_files" / "CT_small.dcm"


def echo(event: dict) -> dict:
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}


@pytest.fixture
def functions() -> FakeFunctions:
    return FakeFunctions(
        JobFunction=echo, FilesFunction=echo, LatestFunction=echo, KeyedFunction=echo
    )


@pytest.fixture
def gateway(functions: FakeFunctions) -> Iterator[Gateway]:
    gw = Gateway(functions)
    gw.add_rest_api(
        API,
        stage="prod",
        routes=[
            RestRoute("GET", "/jobs/{job_id}", "JobFunction"),
            RestRoute("GET", "/jobs/latest", "LatestFunction"),
            RestRoute("ANY", "/files/{proxy+}", "FilesFunction"),
            RestRoute("POST", "/clients", "KeyedFunction", api_key_required=True),
        ],
        api_keys=[API_KEY],
        cors_allow_origin="http://127.0.0.1:5173",
        binary_media_types=["application/dicom", "image/*"],
        integration_timeout_seconds=1.0,
    )
    gw.start()
    yield gw
    gw.stop()


def test_proxy_event_carries_path_query_and_headers(gateway: Gateway, functions: FakeFunctions):
    # Given a route with a path parameter
    url = f"{gateway.rest_url(API)}/jobs/job%2042?status=done&tag=a&tag=b"

    # When a client calls it with a repeated query parameter and custom headers
    response = requests.get(url, headers={"X-Client": "cli/1.0"}, timeout=5)

    # Then the function saw API Gateway's payload format 1.0 event
    assert response.status_code == 200
    (event,) = functions.calls("JobFunction")
    assert event["resource"] == "/jobs/{job_id}"
    assert event["path"] == "/jobs/job%2042"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"job_id": "job 42"}
    assert event["queryStringParameters"] == {"status": "done", "tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"status": ["done"], "tag": ["a", "b"]}
    assert event["headers"]["X-Client"] == "cli/1.0"
    assert event["multiValueHeaders"]["X-Client"] == ["cli/1.0"]
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert event["stageVariables"] is None
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["resourcePath"] == "/jobs/{job_id}"
    assert context["httpMethod"] == "GET"
    assert context["stage"] == "prod"
    assert context["path"] == "/prod/jobs/job%2042"
    assert context["apiId"] == API
    assert context["accountId"] == "123456789012"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["requestId"] == response.headers["x-amzn-RequestId"]
    assert context["domainName"] == url.split("/")[2]
    assert isinstance(context["requestTimeEpoch"], int)


def test_literal_segment_beats_parameter(gateway: Gateway, functions: FakeFunctions):
    # Given /jobs/latest and /jobs/{job_id}
    # When each is requested
    requests.get(f"{gateway.rest_url(API)}/jobs/latest", timeout=5)
    requests.get(f"{gateway.rest_url(API)}/jobs/other", timeout=5)

    # Then the literal resource wins its path and the parameter takes the rest
    assert [e["resource"] for e in functions.calls("LatestFunction")] == ["/jobs/latest"]
    assert [e["pathParameters"] for e in functions.calls("JobFunction")] == [{"job_id": "other"}]


def test_greedy_parameter_takes_every_remaining_segment(gateway: Gateway, functions: FakeFunctions):
    # Given an ANY /files/{proxy+} route
    # When a nested path is deleted
    response = requests.delete(f"{gateway.rest_url(API)}/files/a/b/c.png", timeout=5)

    # Then the greedy parameter holds the whole tail and the method is the client's
    assert response.status_code == 200
    (event,) = functions.calls("FilesFunction")
    assert event["resource"] == "/files/{proxy+}"
    assert event["pathParameters"] == {"proxy": "a/b/c.png"}
    assert event["httpMethod"] == "DELETE"


def test_binary_body_arrives_base64_encoded(gateway: Gateway, functions: FakeFunctions):
    # Given a real DICOM file and a content type listed in binary_media_types
    data = DICOM.read_bytes()

    # When it is posted
    requests.post(
        f"{gateway.rest_url(API)}/files/study/ct.dcm",
        data=data,
        headers={"Content-Type": "application/dicom"},
        timeout=5,
    )

    # Then the function gets it base64-encoded, byte for byte
    (event,) = functions.calls("FilesFunction")
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == data


def test_text_body_arrives_as_text(gateway: Gateway, functions: FakeFunctions):
    # Given a JSON body
    payload = {"client_id": "c-1", "note": "été"}

    # When it is posted with the API key
    requests.post(
        f"{gateway.rest_url(API)}/clients",
        json=payload,
        headers={"x-api-key": API_KEY},
        timeout=5,
    )

    # Then the function gets the text as sent, and the key in its identity
    (event,) = functions.calls("KeyedFunction")
    assert event["isBase64Encoded"] is False
    assert json.loads(event["body"]) == payload
    assert event["requestContext"]["identity"]["apiKey"] == API_KEY


def test_response_headers_status_and_binary_body_pass_through(
    gateway: Gateway, functions: FakeFunctions
):
    # Given a function answering a binary image with two cookies
    image = DICOM.read_bytes()[:4096]
    functions.handlers["FilesFunction"] = lambda event: {
        "statusCode": 201,
        "headers": {"Content-Type": "image/png", "X-Single": 7},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": base64.b64encode(image).decode(),
        "isBase64Encoded": True,
    }

    # When a client that accepts images asks for it
    response = requests.get(
        f"{gateway.rest_url(API)}/files/x.png", headers={"Accept": "image/png"}, timeout=5
    )

    # Then status, headers and the decoded bytes reach the client
    assert response.status_code == 201
    assert response.content == image
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Single"] == "7"
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]


def test_base64_body_stays_text_when_accept_is_not_binary(
    gateway: Gateway, functions: FakeFunctions
):
    # Given a base64 answer
    functions.handlers["FilesFunction"] = lambda event: {
        "statusCode": 200,
        "body": base64.b64encode(b"\x89PNG").decode(),
        "isBase64Encoded": True,
    }

    # When the client's first Accept type is not a binary media type
    response = requests.get(
        f"{gateway.rest_url(API)}/files/x.png", headers={"Accept": "text/html"}, timeout=5
    )

    # Then API Gateway's rule applies: the body is returned as the base64 text
    assert response.text == base64.b64encode(b"\x89PNG").decode()
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nowhere"), ("POST", "/jobs/j-1"), ("GET", "/files"), ("GET", "/../other/jobs/1")],
)
def test_unknown_route_is_missing_authentication_token(
    gateway: Gateway, functions: FakeFunctions, method: str, path: str
):
    # Given routes that do not cover this method and path
    # When it is requested
    response = requests.request(method, gateway.rest_url(API) + path, timeout=5)

    # Then API Gateway's 403 comes back and no function runs
    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert not any(functions.events.values())


def test_wrong_stage_is_missing_authentication_token(gateway: Gateway, functions: FakeFunctions):
    # Given an API deployed on stage "prod"
    base = gateway.rest_url(API).rsplit("/", 1)[0]

    # When another stage is requested
    response = requests.get(f"{base}/dev/jobs/j-1", timeout=5)

    # Then nothing matches
    assert response.status_code == 403
    assert functions.calls("JobFunction") == []


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "wrong"}])
def test_api_key_required_route_refuses_missing_or_wrong_key(
    gateway: Gateway, functions: FakeFunctions, headers: dict
):
    # Given a route that requires an API key
    # When the key is missing or wrong
    response = requests.post(f"{gateway.rest_url(API)}/clients", headers=headers, timeout=5)

    # Then the gateway refuses it before the function runs
    assert response.status_code == 403
    assert response.json() == {"message": "Forbidden"}
    assert functions.calls("KeyedFunction") == []


def test_handler_exception_is_502(gateway: Gateway, functions: FakeFunctions):
    # Given a function that raises
    def broken(event: dict) -> dict:
        raise RuntimeError("database unreachable")

    functions.handlers["JobFunction"] = broken

    # When it is called
    response = requests.get(f"{gateway.rest_url(API)}/jobs/j-1", timeout=5)

    # Then the client sees API Gateway's generic 502, never the error text
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}


@pytest.mark.parametrize(
    "answer",
    [
        {"statusCode": 200, "body": {"not": "a string"}},
        {"body": "no status"},
        {"statusCode": "200", "body": ""},
        {"statusCode": 200, "body": "", "extra": 1},
        {"statusCode": 200, "headers": {"X-A": {"nested": 1}}},
        ["not", "an", "object"],
        None,
    ],
)
def test_malformed_proxy_response_is_502(gateway: Gateway, functions: FakeFunctions, answer):
    # Given a function whose answer is not a valid proxy response
    functions.handlers["JobFunction"] = lambda event: answer

    # When it is called
    response = requests.get(f"{gateway.rest_url(API)}/jobs/j-1", timeout=5)

    # Then it is a "Malformed Lambda proxy response": 502
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}


def test_cors_preflight_is_answered_without_the_function(
    gateway: Gateway, functions: FakeFunctions
):
    # Given CORS configured on the API
    # When a browser preflights a POST
    response = requests.options(
        f"{gateway.rest_url(API)}/clients",
        headers={
            "Origin": "http://127.0.0.1:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-api-key",
        },
        timeout=5,
    )

    # Then the mock integration answers, needing no API key, and the function never runs
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:5173"
    assert set(response.headers["Access-Control-Allow-Methods"].split(",")) == {"OPTIONS", "POST"}
    assert "X-Api-Key" in response.headers["Access-Control-Allow-Headers"]
    assert functions.calls("KeyedFunction") == []


def test_payload_over_10_mb_is_413(gateway: Gateway, functions: FakeFunctions):
    # Given a body one byte over API Gateway's 10 MB limit
    body = b"x" * (10 * 1024 * 1024 + 1)

    # When it is posted
    response = requests.post(f"{gateway.rest_url(API)}/files/big.bin", data=body, timeout=30)

    # Then it is refused and the function never sees it
    assert response.status_code == 413
    assert functions.calls("FilesFunction") == []


def test_slow_function_is_504(gateway: Gateway, functions: FakeFunctions):
    # Given a function that answers only after the integration timeout (1 s in this fixture)
    release = threading.Event()
    functions.handlers["JobFunction"] = lambda event: release.wait(10) and echo(event)

    # When it is called
    try:
        response = requests.get(f"{gateway.rest_url(API)}/jobs/slow", timeout=10)
    finally:
        release.set()

    # Then the client gets API Gateway's timeout answer
    assert response.status_code == 504
    assert response.json() == {"message": "Endpoint request timed out"}


def test_requests_are_served_concurrently(gateway: Gateway, functions: FakeFunctions):
    # Given a function that blocks until a second request has reached the other function
    second_arrived = threading.Event()

    def first(event: dict) -> dict:
        assert second_arrived.wait(5)
        return echo(event)

    def second(event: dict) -> dict:
        second_arrived.set()
        return echo(event)

    functions.handlers["JobFunction"] = first
    functions.handlers["LatestFunction"] = second

    # When both are requested at once
    results: list[int] = []
    blocked = threading.Thread(
        target=lambda: results.append(
            requests.get(f"{gateway.rest_url(API)}/jobs/j-1", timeout=10).status_code
        )
    )
    blocked.start()
    other = requests.get(f"{gateway.rest_url(API)}/jobs/latest", timeout=10)
    blocked.join(10)

    # Then neither waited for the other
    assert other.status_code == 200
    assert results == [200]


def test_static_site_serves_config_files_and_spa_fallback(tmp_path: Path):
    # Given a built single-page app
    (tmp_path / "index.html").write_text("<html>console</html>")
    (tmp_path / "app.js").write_text("console.log(1)")
    (tmp_path.parent / "secret.txt").write_text("outside")
    gw = Gateway(FakeFunctions())
    gw.add_static_site(tmp_path, config={"restUrl": "http://127.0.0.1:1/prod"})
    gw.start()
    try:
        base = gw.static_url()
        assert base is not None

        # When the browser loads config, a file, a client-side route and a traversal attempt
        config = requests.get(f"{base}/config.json", timeout=5)
        script = requests.get(f"{base}/app.js", timeout=5)
        route = requests.get(f"{base}/jobs/123", timeout=5)
        escape = requests.get(f"{base}/%2e%2e/secret.txt", timeout=5)
    finally:
        gw.stop()

    # Then each gets what a static host gives an SPA, and nothing outside the directory leaks
    assert config.json() == {"restUrl": "http://127.0.0.1:1/prod"}
    assert script.text == "console.log(1)"
    assert route.text == "<html>console</html>"
    assert escape.text == "<html>console</html>"


def test_declaring_a_duplicate_route_fails_at_declaration():
    # Given a gateway
    gw = Gateway(FakeFunctions())

    # When an API declares one method and path twice
    # Then it is refused before anything is served
    with pytest.raises(ValueError, match="declared twice"):
        gw.add_rest_api(
            API,
            stage="prod",
            routes=[RestRoute("GET", "/a/{x}", "F"), RestRoute("get", "/a/{x}/", "G")],
        )
