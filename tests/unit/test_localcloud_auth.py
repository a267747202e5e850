"""The local gateway's authorizers against real Cognito tokens (moto in server mode): the REST
API's Cognito authorizer, the HTTP API's JWT authorizer with its VPC-link proxy to a local load
balancer, and the WebSocket ticket authorizer's outcomes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
import requests
from botocore.config import Config
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from localcloud.alb import LoadBalancer
from localcloud.gateway import (
    CognitoAuthorizer,
    Gateway,
    GatewayResponse,
    HttpCors,
    HttpProxyIntegration,
    HttpRoute,
    JwksCache,
    JwtAuthorizer,
    RestRoute,
    TokenVerifier,
    WebSocketAuthorizer,
    WebSocketRoute,
)
from localcloud.gateway.http_api import HttpRouter
from localcloud.gateway.jwt_auth import TokenRejected, rest_claims
from localcloud.moto_server import MotoServer, free_port
from tests.unit.test_localcloud_auth_support import (
    Cognito,
    another_rsa_key,
    claims_of,
    expired_claims,
    forge,
    unsigned,
)
from tests.unit.test_localcloud_gateway_support import FakeFunctions

REST = "AuthedApi"
HTTP = "ServicesApi"
WS = "TicketsApi"
ORIGIN = "http://127.0.0.1:5173"
UNAUTHORIZED = {"message": "Unauthorized"}
EXPIRED = {"message": "The incoming token has expired"}


@pytest.fixture(scope="module")
def cognito() -> Iterator[Cognito]:
    server = MotoServer()
    server.start()
    try:
        yield Cognito(server)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def alice(cognito: Cognito) -> dict[str, str]:
    """An admin of the main pool, signed in."""
    return cognito.tokens(cognito.main, groups=("admins",))


def whoami(event: dict) -> dict:
    return {"statusCode": 200, "body": json.dumps(event["requestContext"].get("authorizer"))}


# -- REST: Cognito user pool authorizer -------------------------------------------------------


@pytest.fixture(scope="module")
def rest(cognito: Cognito) -> Iterator[tuple[Gateway, FakeFunctions]]:
    functions = FakeFunctions(WhoamiFunction=whoami, OpenFunction=whoami)
    authorizer = CognitoAuthorizer("CognitoAuthorizer", (cognito.main.arn,))
    gw = Gateway(functions, token_verifier=cognito.verifier())
    gw.add_rest_api(
        REST,
        stage="prod",
        routes=[
            RestRoute("GET", "/whoami", "WhoamiFunction", authorizer=authorizer),
            RestRoute("GET", "/open", "OpenFunction"),
        ],
        cors_allow_origin=ORIGIN,
        gateway_responses={
            "DEFAULT_4XX": GatewayResponse(headers={"Access-Control-Allow-Origin": ORIGIN})
        },
    )
    gw.add_rest_api(
        "PreflightAuthed",
        stage="prod",
        routes=[RestRoute("GET", "/whoami", "WhoamiFunction", authorizer=authorizer)],
        cors_allow_origin=ORIGIN,
        preflight_authorizer=authorizer,
    )
    gw.start()
    yield gw, functions
    gw.stop()


def _rest_call(rest, authorization: str | None, path: str = "/whoami") -> requests.Response:
    gw, _ = rest
    headers = {"Authorization": authorization} if authorization is not None else {}
    return requests.get(f"{gw.rest_url(REST)}{path}", headers=headers, timeout=10)


def test_rest_valid_id_token_reaches_the_function_with_string_claims(rest, alice, cognito):
    # Given an admin's ID token from the authorizer's pool
    # When it is sent raw (API Gateway's form) and with a Bearer prefix
    raw = _rest_call(rest, alice["IdToken"])
    bearer = _rest_call(rest, f"Bearer {alice['IdToken']}")

    # Then both reach the function, the claims as strings the way API Gateway renders them
    assert raw.status_code == bearer.status_code == 200
    claims = raw.json()["claims"]
    assert all(isinstance(value, str) for value in claims.values())
    assert claims["cognito:groups"] == "admins"
    assert claims["token_use"] == "id"
    assert claims["aud"] == cognito.main.client_id
    assert claims["iss"] == cognito.main.issuer
    assert claims["exp"].endswith(" UTC " + time.strftime("%Y", time.gmtime(int(time.time()))))
    assert claims["auth_time"].isdigit()


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing", UNAUTHORIZED),
        ("empty", UNAUTHORIZED),
        ("malformed", UNAUTHORIZED),
        ("bad signature", UNAUTHORIZED),
        ("unsigned", UNAUTHORIZED),
        ("unknown kid", UNAUTHORIZED),
        ("other pool", UNAUTHORIZED),
        ("wrong audience", UNAUTHORIZED),
        ("access token", UNAUTHORIZED),
        ("expired", EXPIRED),
    ],
)
def test_rest_refuses_every_bad_token_before_the_function(rest, alice, cognito, case, expected):
    # Given a token that is wrong in one way
    token = alice["IdToken"]
    header = {
        "missing": None,
        "empty": "",
        "malformed": "not-a-jwt",
        "bad signature": lambda: forge(claims_of(token), key=another_rsa_key()),
        "unsigned": lambda: unsigned(claims_of(token)),
        "unknown kid": lambda: forge(claims_of(token), kid="rotated-away"),
        "other pool": lambda: cognito.tokens(cognito.other)["IdToken"],
        "wrong audience": lambda: forge(claims_of(token, aud="someone-elses-client")),
        "access token": alice["AccessToken"],
        "expired": lambda: forge(expired_claims(token)),
    }[case]
    value = header() if callable(header) else header
    _, functions = rest
    before = len(functions.calls("WhoamiFunction"))

    # When it is sent
    response = _rest_call(rest, value)

    # Then API Gateway's 401 answers (with the DEFAULT_4XX gateway response's CORS header), and
    # the function never runs
    assert (response.status_code, response.json()) == (401, expected)
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert len(functions.calls("WhoamiFunction")) == before


def test_rest_route_without_authorizer_and_unauthenticated_preflight(rest):
    # Given an open route (Authorizer: NONE) and AddDefaultAuthorizerToCorsPreflight false
    gw, _ = rest
    preflight_headers = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}

    # When both are called without a token, and the preflight of an API that authorizes it
    open_route = _rest_call(rest, None, "/open")
    preflight = requests.options(
        f"{gw.rest_url(REST)}/whoami", headers=preflight_headers, timeout=10
    )
    guarded = requests.options(
        f"{gw.rest_url('PreflightAuthed')}/whoami", headers=preflight_headers, timeout=10
    )

    # Then the open ones answer without an authorizer; the guarded preflight needs a token
    assert open_route.status_code == 200
    assert open_route.json() is None
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert (guarded.status_code, guarded.json()) == (401, UNAUTHORIZED)


def test_rest_claims_render_lists_dates_and_booleans_as_strings():
    # Given decoded claims with a list, dates, a number and a boolean
    claims = {
        "cognito:groups": ["admins", "staff"],
        "exp": 1680633579,
        "iat": 1680629979,
        "auth_time": 1680629979,
        "email_verified": True,
        "sub": "abc",
    }

    # When rendered for a REST event, Then they read as API Gateway's strings
    assert rest_claims(claims) == {
        "cognito:groups": "admins,staff",
        "exp": "Tue Apr 04 18:39:39 UTC 2023",
        "iat": "Tue Apr 04 17:39:39 UTC 2023",
        "auth_time": "1680629979",
        "email_verified": "true",
        "sub": "abc",
    }


def test_jwks_are_cached_and_refetched_once_for_an_unknown_kid(cognito, alice):
    # Given a key cache that counts its fetches of moto's JWKS
    fetched: list[str] = []

    def fetch(url: str) -> dict:
        fetched.append(url)
        return requests.get(url, timeout=10).json()

    clock = [0.0]
    jwks = JwksCache(
        lambda issuer: f"{cognito.server.url}/{issuer.rsplit('/', 1)[1]}/.well-known/jwks.json",
        fetch=fetch,
        refetch_interval=5.0,
        clock=lambda: clock[0],
    )
    verifier = TokenVerifier(jwks, app_clients=cognito.app_clients)
    authorizer = CognitoAuthorizer("A", (cognito.main.arn,))

    # When a valid token is checked twice, then a token with an unknown kid twice, 10 s later
    verifier.cognito(authorizer, alice["IdToken"])
    verifier.cognito(authorizer, alice["IdToken"])
    clock[0] = 10.0
    rotated = forge(claims_of(alice["IdToken"]), kid="next-key")
    for _ in range(2):
        with pytest.raises(TokenRejected):
            verifier.cognito(authorizer, rotated)

    # Then the key set was fetched once, and once more for the unknown kid (not per request)
    assert len(fetched) == 2


# -- HTTP API: JWT authorizer, HTTP_PROXY through a VPC link to the local ALB --------------------


class _Echo(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        payload = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Access-Control-Allow-Origin", "*")  # the API must replace this
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def http(cognito: Cognito) -> Iterator[Gateway]:
    backend = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    target = f"127.0.0.1:{backend.server_address[1]}"
    alb = LoadBalancer(
        port=free_port(),
        default_target_group="tg-yolo",
        rules=[],
        endpoints=lambda group: [target] if group == "tg-yolo" else [],
    )
    alb.start()
    jwt_authorizer = JwtAuthorizer(
        "ServicesApiAuthorizer", cognito.main.issuer, (cognito.main.client_id,)
    )
    via_vpc_link = HttpProxyIntegration(alb.url)
    down = HttpProxyIntegration(f"http://127.0.0.1:{free_port()}")
    gw = Gateway(FakeFunctions(), token_verifier=cognito.verifier())
    gw.add_http_api(
        HTTP,
        routes=[
            HttpRoute("ANY /pacs/{proxy+}", via_vpc_link, jwt_authorizer),
            HttpRoute("GET /status", via_vpc_link, jwt_authorizer),
            HttpRoute("GET /down", down),
        ],
        cors=HttpCors(allow_origins=(ORIGIN,), allow_headers=("authorization", "content-type")),
    )
    gw.start()
    yield gw
    gw.stop()
    alb.stop()
    backend.shutdown()


def test_http_route_proxies_through_the_vpc_link_unchanged(http, alice):
    # Given a JWT route in front of the load balancer, and a signed-in user
    url = f"{http.http_api_url(HTTP)}/pacs/studies/1.2.3/series?limit=5&x=%2F"
    assert http.http_api_url(HTTP).count("/") == 2  # $default: no stage in the URL

    # When the user posts with a Bearer token from the console's origin
    response = requests.post(
        url,
        data=b'{"a": 1}',
        headers={
            "Authorization": f"Bearer {alice['IdToken']}",
            "Origin": ORIGIN,
            "X-Custom": "kept",
            "Connection": "keep-alive",
        },
        timeout=10,
    )

    # Then the backend saw method, path, query, body and headers as sent (Authorization too)
    assert response.status_code == 200, response.text
    echoed = response.json()
    assert echoed["method"] == "POST"
    assert echoed["path"] == "/pacs/studies/1.2.3/series?limit=5&x=%2F"
    assert echoed["body"] == '{"a": 1}'
    assert echoed["headers"]["authorization"] == f"Bearer {alice['IdToken']}"
    assert echoed["headers"]["x-custom"] == "kept"
    assert echoed["headers"]["x-forwarded-for"].startswith("127.0.0.1")
    # ... and the CORS header is the API's, for the console, not the backend's "*"
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers.get("apigw-requestid")


def test_http_jwt_accepts_a_raw_token_and_an_access_token_by_client_id(http, alice):
    # Given the ID token without Bearer, and an access token (client_id, no aud)
    url = f"{http.http_api_url(HTTP)}/status"

    # When each is sent
    raw = requests.get(url, headers={"Authorization": alice["IdToken"]}, timeout=10)
    access = requests.get(
        url, headers={"Authorization": f"Bearer {alice['AccessToken']}"}, timeout=10
    )

    # Then both pass, as API Gateway's JWT authorizer matches aud, else client_id
    assert raw.status_code == access.status_code == 200


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "malformed",
        "bad signature",
        "unsigned",
        "other pool",
        "wrong audience",
        "expired",
        "not yet valid",
    ],
)
def test_http_jwt_refuses_every_bad_token_with_401(http, alice, cognito, case):
    # Given a token that is wrong in one way
    token = alice["IdToken"]
    value = {
        "missing": lambda: None,
        "malformed": lambda: "Bearer abc.def",
        "bad signature": lambda: forge(claims_of(token), key=another_rsa_key()),
        "unsigned": lambda: unsigned(claims_of(token)),
        "other pool": lambda: cognito.tokens(cognito.other)["IdToken"],
        "wrong audience": lambda: forge(claims_of(token, aud="someone-else")),
        "expired": lambda: forge(expired_claims(token)),
        "not yet valid": lambda: forge(claims_of(token, nbf=int(time.time()) + 600)),
    }[case]()
    headers = {"Origin": ORIGIN}
    if value is not None:
        headers["Authorization"] = value if value.startswith("Bearer") else f"Bearer {value}"

    # When it is sent
    response = requests.get(f"{http.http_api_url(HTTP)}/pacs/studies", headers=headers, timeout=10)

    # Then the HTTP API answers 401 itself (CORS headers on it, so a browser can read it)
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)
    assert "www-authenticate" in response.headers
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_http_cors_preflight_is_answered_for_allowed_origins_only(http):
    # Given an HTTP API whose CORS allows only the console's origin
    url = f"{http.http_api_url(HTTP)}/pacs/studies"
    asked = {
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }

    # When the console and another site send preflights (no token: preflights carry none)
    allowed = requests.options(url, headers={"Origin": ORIGIN, **asked}, timeout=10)
    other = requests.options(url, headers={"Origin": "https://evil.example", **asked}, timeout=10)

    # Then API Gateway answers both itself, with CORS headers for the console only
    assert allowed.status_code == other.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert allowed.headers["Access-Control-Allow-Headers"] == "authorization,content-type"
    assert "Access-Control-Allow-Origin" not in other.headers


def test_http_unknown_route_is_404_and_an_unreachable_backend_503(http):
    base = http.http_api_url(HTTP)
    missing = requests.get(f"{base}/nothing/here", timeout=10)
    bare = requests.get(f"{base}/pacs", timeout=10)  # {proxy+} needs at least one segment
    down = requests.get(f"{base}/down", timeout=10)
    assert (missing.status_code, missing.json()) == (404, {"message": "Not Found"})
    assert bare.status_code == 404
    assert (down.status_code, down.json()) == (503, {"message": "Service Unavailable"})


def test_http_route_selection_prefers_the_most_specific_route():
    # Given routes of every kind
    target = HttpProxyIntegration("http://backend")
    routes = {
        key: HttpRoute(key, target)
        for key in (
            "ANY /pacs/{proxy+}",
            "GET /pacs/studies",
            "ANY /pacs/studies",
            "GET /pacs/{id}",
            "GET /status",
            "$default",
        )
    }
    router = HttpRouter(tuple(routes.values()))

    # Then literals beat parameters beat greedy paths, a method beats ANY, $default takes the rest
    def chosen(method: str, path: str) -> str | None:
        route = router.match(method, path)
        return route.route_key if route else None

    assert chosen("GET", "/pacs/studies") == "GET /pacs/studies"
    assert chosen("POST", "/pacs/studies") == "ANY /pacs/studies"
    assert chosen("GET", "/pacs/series") == "GET /pacs/{id}"
    assert chosen("DELETE", "/pacs/series") == "ANY /pacs/{proxy+}"
    assert chosen("GET", "/pacs/a/b/c") == "ANY /pacs/{proxy+}"
    assert chosen("GET", "/status") == "GET /status"
    assert chosen("POST", "/status") == "$default"
    assert chosen("GET", "/") == "$default"
    without_default = HttpRouter((routes["GET /status"],))
    assert without_default.match("GET", "/other") is None


# -- WebSocket: a one-time ticket in the query string -------------------------------------------


@pytest.fixture
def tickets() -> Iterator[tuple[Gateway, FakeFunctions]]:
    valid = {"t-good"}

    def consume(event: dict) -> dict:
        ticket = event["queryStringParameters"]["ticket"]
        effect = "Allow" if ticket in valid else "Deny"
        valid.discard(ticket)  # one use only
        return {
            "principalId": "owner-1",
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Action": "execute-api:Invoke",
                        "Effect": effect,
                        "Resource": event["methodArn"],
                    }
                ],
            },
            "context": {"client_id": "c-1", "owner": "owner-1"},
        }

    functions = FakeFunctions(
        TicketAuthorizer=consume,
        ConnectFunction=lambda event: {"statusCode": 200},
    )
    gw = Gateway(functions)
    gw.add_websocket_api(
        WS,
        stage="prod",
        routes=[WebSocketRoute("$connect", "ConnectFunction")],
        authorizer=WebSocketAuthorizer("TicketAuthorizer", ("route.request.querystring.ticket",)),
    )
    gw.start()
    yield gw, functions
    gw.stop()


def test_ticket_authorizer_outcomes(tickets):
    gw, functions = tickets
    url = gw.websocket_url(WS)

    # No ticket: 401 before the authorizer runs
    with pytest.raises(InvalidStatus) as missing:
        connect(url, open_timeout=5)
    assert missing.value.response.status_code == 401
    assert functions.calls("TicketAuthorizer") == []

    # A valid ticket: connected, the authorizer's context in $connect's requestContext
    with connect(f"{url}?ticket=t-good", open_timeout=5):
        pass
    (connected,) = functions.calls("ConnectFunction")
    authorizer = connected["requestContext"]["authorizer"]
    assert authorizer["principalId"] == "owner-1"
    assert (authorizer["client_id"], authorizer["owner"]) == ("c-1", "owner-1")

    # The same ticket again: the authorizer denies, the gateway answers 403
    with pytest.raises(InvalidStatus) as reused:
        connect(f"{url}?ticket=t-good", open_timeout=5)
    assert reused.value.response.status_code == 403
    assert len(functions.calls("ConnectFunction")) == 1


def test_delete_of_an_unknown_connection_is_gone(tickets):
    gw, _ = tickets
    api = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=gw.management_url(WS),
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )
    with pytest.raises(api.exceptions.GoneException):
        api.delete_connection(ConnectionId="NoSuchConnId0A=")
