"""Every HTTP API of the project answers errors with one body, ``{"error": {code, message,
field?}}``: the PACS API (its own refusals and its router's) and the YOLO service's status server.
The job REST API's errors are checked by each function's own tests."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient

from pacs_api.app import create_app
from pacs_api.settings import PacsSettings
from pipeline_common import aws
from pipeline_common.contracts.errors import ApiErrorBody
from yolo_stream.http_server import make_server
from yolo_stream.service import YoloStreamService


def _error_of(body: Any) -> dict[str, Any]:
    """The body's ``error``, after checking the body is exactly the shared contract."""
    ApiErrorBody.model_validate(body)
    return cast(dict[str, Any], body["error"])


@pytest.fixture
def pacs(mocked_aws: None) -> Iterator[TestClient]:
    aws.client("s3").create_bucket(Bucket="pacs-bucket")
    with TestClient(create_app(PacsSettings(pacs_bucket="pacs-bucket"))) as client:
        yield client


def test_a_pacs_refusal_is_the_shared_body(pacs: TestClient) -> None:
    response = pacs.get("/studies/1.2.3/series")

    assert response.status_code == 404
    assert _error_of(response.json()) == {"code": "not_found", "message": "study 1.2.3 not found"}


def test_a_parameter_fastapi_refuses_is_the_shared_body(pacs: TestClient) -> None:
    response = pacs.get("/studies/1/series/2/instances/3/rendered", params={"quality": "0"})

    assert response.status_code == 400
    error = _error_of(response.json())
    assert error["code"] == "invalid_query"
    assert error["message"].startswith("query.quality: ")


def test_the_pacs_router_refusals_are_the_shared_body(pacs: TestClient) -> None:
    unknown = pacs.get("/no-such-thing")
    wrong_method = pacs.delete("/health")

    assert unknown.status_code == 404
    assert _error_of(unknown.json()) == {"code": "no_such_route", "message": "no such route"}
    assert wrong_method.status_code == 405
    assert _error_of(wrong_method.json())["code"] == "method_not_allowed"
    assert wrong_method.headers["allow"] == "GET"


@pytest.fixture
def yolo_status_url() -> Iterator[str]:
    # Only the refusals are exercised: no route reaches the service, so none is built.
    server = make_server(cast(YoloStreamService, object()), port=0, host="127.0.0.1")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _refusal(url: str, method: str = "GET") -> tuple[int, Any]:
    request = urllib.request.Request(url, method=method)  # noqa: S310 - a local http URL
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)  # noqa: S310
    error = refused.value
    assert error.headers["Content-Type"] == "application/json"
    return error.code, json.loads(error.read())


def test_the_yolo_status_server_refuses_in_the_shared_body(yolo_status_url: str) -> None:
    status, body = _refusal(f"{yolo_status_url}/nope?x=1")
    method_status, method_body = _refusal(f"{yolo_status_url}/status", method="POST")

    assert status == 404
    assert _error_of(body) == {"code": "no_such_route", "message": "no route /nope"}
    assert method_status == 501
    assert _error_of(method_body)["code"] == "not_implemented"
