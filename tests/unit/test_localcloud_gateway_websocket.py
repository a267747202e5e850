"""The local cloud's WebSocket API emulation over real sockets: authorizer, $connect, message
routing, $disconnect, and the @connections management API through a real boto3 client."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from localcloud.gateway import Gateway, WebSocketAuthorizer, WebSocketRoute
from tests.unit.test_localcloud_gateway_support import FakeFunctions, wait_until

API = "ResultsWebSocketApi"
REGION, ACCOUNT = "us-east-1", "123456789012"
METHOD_ARN = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API}/live/$connect"


def allow(event: dict) -> dict:
    """A REQUEST authorizer that lets client ``c-1`` with token ``t-1`` in."""
    query = event.get("queryStringParameters") or {}
    effect = "Allow" if query == {"client_id": "c-1", "token": "t-1"} else "Deny"
    return {
        "principalId": query.get("client_id", "anonymous"),
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}
            ],
        },
        "context": {"client_id": query.get("client_id"), "tier": 2},
    }


def accept(event: dict) -> dict:
    return {"statusCode": 200}


@pytest.fixture
def functions() -> FakeFunctions:
    return FakeFunctions(
        AuthorizerFunction=allow,
        ConnectFunction=accept,
        DisconnectFunction=accept,
        SubmitFunction=accept,
        DefaultFunction=accept,
    )


def make_gateway(functions: FakeFunctions, **options) -> Gateway:
    gw = Gateway(functions, region=REGION, account_id=ACCOUNT)
    routes = options.pop(
        "routes",
        [
            WebSocketRoute("$connect", "ConnectFunction"),
            WebSocketRoute("$disconnect", "DisconnectFunction"),
            WebSocketRoute("submit", "SubmitFunction"),
            WebSocketRoute("$default", "DefaultFunction"),
        ],
    )
    authorizer = WebSocketAuthorizer(
        "AuthorizerFunction",
        ("route.request.querystring.client_id", "route.request.querystring.token"),
    )
    gw.add_websocket_api(API, stage="live", routes=routes, authorizer=authorizer, **options)
    gw.start()
    return gw


@pytest.fixture
def gateway(functions: FakeFunctions) -> Iterator[Gateway]:
    gw = make_gateway(functions)
    yield gw
    gw.stop()


def open_client(gateway: Gateway, query: str = "client_id=c-1&token=t-1") -> ClientConnection:
    return connect(
        f"{gateway.websocket_url(API)}?{query}", open_timeout=5, user_agent_header="ws-cli/1.0"
    )


def management(gateway: Gateway):
    endpoint = gateway.management_url(API)
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(retries={"max_attempts": 1}),
    )


def connection_id_of(functions: FakeFunctions) -> str:
    return functions.calls("ConnectFunction")[-1]["requestContext"]["connectionId"]


def test_authorized_connect_passes_policy_context_to_routes(
    gateway: Gateway, functions: FakeFunctions
):
    # Given an authorizer that allows client c-1
    # When c-1 connects with its token
    with open_client(gateway):
        pass

    # Then the authorizer got API Gateway's REQUEST event ...
    (auth_event,) = functions.calls("AuthorizerFunction")
    assert auth_event["type"] == "REQUEST"
    assert auth_event["methodArn"] == METHOD_ARN
    assert auth_event["queryStringParameters"] == {"client_id": "c-1", "token": "t-1"}
    assert auth_event["headers"]["User-Agent"] == "ws-cli/1.0"
    auth_context = auth_event["requestContext"]
    assert auth_context["routeKey"] == "$connect"
    assert auth_context["eventType"] == "CONNECT"
    assert auth_context["apiId"] == API
    assert auth_context["stage"] == "live"
    # ... and $connect ran for the same connection with the policy context as its authorizer
    (connect_event,) = functions.calls("ConnectFunction")
    context = connect_event["requestContext"]
    assert context["connectionId"] == auth_context["connectionId"]
    assert context["eventType"] == "CONNECT"
    assert context["authorizer"]["principalId"] == "c-1"
    assert context["authorizer"]["client_id"] == "c-1"
    assert context["authorizer"]["tier"] == 2
    assert connect_event["queryStringParameters"]["client_id"] == "c-1"


def test_missing_identity_source_is_401_without_calling_the_authorizer(
    gateway: Gateway, functions: FakeFunctions
):
    # Given a client that sends no token
    # When it connects
    with pytest.raises(InvalidStatus) as refused:
        open_client(gateway, "client_id=c-1")

    # Then the handshake is refused before any function runs
    assert refused.value.response.status_code == 401
    assert functions.calls("AuthorizerFunction") == []
    assert functions.calls("ConnectFunction") == []


def test_denied_policy_is_403(gateway: Gateway, functions: FakeFunctions):
    # Given a wrong token
    # When the client connects
    with pytest.raises(InvalidStatus) as refused:
        open_client(gateway, "client_id=c-1&token=stolen")

    # Then the authorizer's Deny refuses the handshake and $connect never runs
    assert refused.value.response.status_code == 403
    assert len(functions.calls("AuthorizerFunction")) == 1
    assert functions.calls("ConnectFunction") == []


def test_policy_that_does_not_cover_the_method_arn_is_403(
    gateway: Gateway, functions: FakeFunctions
):
    # Given an Allow on "stage/*/*", which a WebSocket methodArn (".../live/$connect") never matches
    def too_narrow(event: dict) -> dict:
        answer = allow(event)
        arn_prefix = event["methodArn"].rsplit("/", 1)[0]
        answer["policyDocument"]["Statement"][0]["Resource"] = f"{arn_prefix}/*/*"
        return answer

    functions.handlers["AuthorizerFunction"] = too_narrow

    # When an otherwise valid client connects
    with pytest.raises(InvalidStatus) as refused:
        open_client(gateway)

    # Then it is refused, as on API Gateway
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize(("message", "status"), [("Unauthorized", 401), ("boom", 500)])
def test_authorizer_exception_rejects_the_handshake(
    gateway: Gateway, functions: FakeFunctions, message: str, status: int
):
    # Given an authorizer that raises
    def raising(event: dict) -> dict:
        raise Exception(message)  # the documented way for an authorizer to answer 401

    functions.handlers["AuthorizerFunction"] = raising

    # When a client connects
    with pytest.raises(InvalidStatus) as refused:
        open_client(gateway)

    # Then "Unauthorized" means 401 and anything else 500; $connect never runs
    assert refused.value.response.status_code == status
    assert functions.calls("ConnectFunction") == []


def test_connect_route_can_reject_the_handshake(gateway: Gateway, functions: FakeFunctions):
    # Given a $connect function that answers 400
    functions.handlers["ConnectFunction"] = lambda event: {"statusCode": 400, "body": "no"}

    # When a client connects
    with pytest.raises(InvalidStatus) as refused:
        open_client(gateway)

    # Then the client sees that status and no connection exists
    assert refused.value.response.status_code == 400
    connection_id = connection_id_of(functions)
    with pytest.raises(management(gateway).exceptions.GoneException):
        management(gateway).get_connection(ConnectionId=connection_id)


def test_connect_route_exception_rejects_the_handshake(gateway: Gateway, functions: FakeFunctions):
    # Given a $connect function that raises
    def broken(event: dict) -> dict:
        raise RuntimeError("table missing")

    functions.handlers["ConnectFunction"] = broken

    # When a client connects
    # Then the handshake fails with a gateway error
    with pytest.raises(InvalidStatus) as refused:
        open_client(gateway)
    assert refused.value.response.status_code == 502


def test_messages_route_by_action_else_default(gateway: Gateway, functions: FakeFunctions):
    # Given routes "submit" and "$default"
    with open_client(gateway) as client:
        # When the client sends a submit action, an unknown action and plain text
        client.send(json.dumps({"action": "submit", "job": {"algo": "processing_1"}}))
        client.send(json.dumps({"action": "unknown"}))
        client.send("not json")

        # Then each landed on its route with a MESSAGE event carrying the authorizer context
        (submitted,) = wait_until(lambda: functions.calls("SubmitFunction"))
        defaults = wait_until(lambda: len(functions.calls("DefaultFunction")) == 2 or None)
    assert defaults
    assert json.loads(submitted["body"])["job"] == {"algo": "processing_1"}
    context = submitted["requestContext"]
    assert context["routeKey"] == "submit"
    assert context["eventType"] == "MESSAGE"
    assert context["connectionId"] == connection_id_of(functions)
    assert context["messageId"]
    assert context["authorizer"]["client_id"] == "c-1"
    assert submitted["isBase64Encoded"] is False
    bodies = sorted(event["body"] for event in functions.calls("DefaultFunction"))
    assert bodies == sorted([json.dumps({"action": "unknown"}), "not json"])
    assert {e["requestContext"]["routeKey"] for e in functions.calls("DefaultFunction")} == {
        "$default"
    }


def test_message_with_no_route_gets_forbidden_frame(functions: FakeFunctions):
    # Given an API with no $default route
    gw = make_gateway(functions, routes=[WebSocketRoute("submit", "SubmitFunction")])
    try:
        with open_client(gw) as client:
            # When the client sends an action nobody routes
            client.send(json.dumps({"action": "other"}))
            reply = json.loads(client.recv(timeout=5))
    finally:
        gw.stop()

    # Then API Gateway's Forbidden frame comes back
    assert reply["message"] == "Forbidden"
    assert reply["connectionId"]
    assert reply["requestId"]


def test_message_handler_exception_gets_internal_error_frame(
    gateway: Gateway, functions: FakeFunctions
):
    # Given a route whose function raises
    def broken(event: dict) -> None:
        raise ValueError("bad job")

    functions.handlers["SubmitFunction"] = broken

    # When the client sends to it
    with open_client(gateway) as client:
        client.send(json.dumps({"action": "submit"}))
        reply = json.loads(client.recv(timeout=5))

    # Then the client is told, without the error's text
    assert reply["message"] == "Internal server error"
    assert reply["connectionId"] == connection_id_of(functions)


def test_route_return_value_is_not_sent_back(gateway: Gateway, functions: FakeFunctions):
    # Given a route function returning a body (no route response is configured)
    functions.handlers["SubmitFunction"] = lambda event: {"statusCode": 200, "body": "echo"}

    # When the client sends to it, then pings for a round trip
    with open_client(gateway) as client:
        client.send(json.dumps({"action": "submit"}))
        wait_until(lambda: functions.calls("SubmitFunction"))
        client.ping().wait(5)

        # Then nothing but pong came back
        with pytest.raises(TimeoutError):
            client.recv(timeout=0.2)


def test_client_close_triggers_disconnect(gateway: Gateway, functions: FakeFunctions):
    # Given a connected client
    with open_client(gateway) as client:
        connection_id = connection_id_of(functions)

        # When it closes with a reason
        client.close(code=1000, reason="bye")

    # Then $disconnect runs for that connection, with the client's close status
    (event,) = wait_until(lambda: functions.calls("DisconnectFunction"))
    context = event["requestContext"]
    assert context["connectionId"] == connection_id
    assert context["eventType"] == "DISCONNECT"
    assert context["routeKey"] == "$disconnect"
    assert context["disconnectStatusCode"] == 1000
    assert context["disconnectReason"] == "bye"
    assert context["authorizer"]["principalId"] == "c-1"


def test_dropped_transport_is_an_abnormal_disconnect(gateway: Gateway, functions: FakeFunctions):
    # Given a connected client
    with open_client(gateway) as client:
        # When its TCP connection drops without a close frame
        client.socket.shutdown(socket.SHUT_RDWR)

        # Then $disconnect still runs, reporting 1006
        (event,) = wait_until(lambda: functions.calls("DisconnectFunction"))
    assert event["requestContext"]["disconnectStatusCode"] == 1006


def test_post_to_connection_reaches_the_client(gateway: Gateway, functions: FakeFunctions):
    # Given a connected client and a boto3 management client on the stage URL
    api = management(gateway)
    with open_client(gateway) as client:
        connection_id = connection_id_of(functions)

        # When a backend posts a JSON result and binary data, and reads the connection
        api.post_to_connection(ConnectionId=connection_id, Data=b'{"job_id": "j-1"}')
        api.post_to_connection(ConnectionId=connection_id, Data=b"\xff\x00\x01")
        info = api.get_connection(ConnectionId=connection_id)

        # Then the client receives both, text as text and bytes as bytes
        assert json.loads(client.recv(timeout=5)) == {"job_id": "j-1"}
        assert client.recv(timeout=5) == b"\xff\x00\x01"
    assert info["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "ws-cli/1.0"}
    assert info["ConnectedAt"] <= info["LastActiveAt"]


def test_post_after_close_raises_gone_exception(gateway: Gateway, functions: FakeFunctions):
    # Given a client that connected and left
    with open_client(gateway):
        connection_id = connection_id_of(functions)
    wait_until(lambda: functions.calls("DisconnectFunction"))
    api = management(gateway)

    # When a backend pushes to it
    # Then boto3 raises GoneException, as on AWS
    with pytest.raises(api.exceptions.GoneException):
        api.post_to_connection(ConnectionId=connection_id, Data=b"late")
    with pytest.raises(api.exceptions.GoneException):
        api.post_to_connection(ConnectionId="NoSuchConnId0A=", Data=b"x")


def test_delete_connection_closes_the_client(gateway: Gateway, functions: FakeFunctions):
    # Given a connected client
    api = management(gateway)
    with open_client(gateway) as client:
        connection_id = connection_id_of(functions)

        # When a backend deletes the connection
        api.delete_connection(ConnectionId=connection_id)

        # Then the client is closed, $disconnect runs and the id is gone
        with pytest.raises(ConnectionClosed):
            client.recv(timeout=5)
    wait_until(lambda: functions.calls("DisconnectFunction"))
    with pytest.raises(api.exceptions.GoneException):
        api.get_connection(ConnectionId=connection_id)


def test_post_over_128_kb_is_payload_too_large(gateway: Gateway, functions: FakeFunctions):
    # Given a connected client
    api = management(gateway)
    with open_client(gateway) as client:
        connection_id = connection_id_of(functions)

        # When a backend posts more than API Gateway's 128 KB frame limit
        # Then boto3 raises PayloadTooLargeException and the client gets nothing
        with pytest.raises(api.exceptions.PayloadTooLargeException):
            api.post_to_connection(ConnectionId=connection_id, Data=b"x" * (128 * 1024 + 1))
        client.ping().wait(5)
        with pytest.raises(TimeoutError):
            client.recv(timeout=0.1)


def test_message_over_128_kb_closes_with_1009(gateway: Gateway, functions: FakeFunctions):
    # Given a connected client
    with open_client(gateway) as client:
        # When it sends a message over the 128 KB limit
        client.send("x" * (128 * 1024 + 1))

        # Then the gateway closes the connection as "message too big" and routes nothing
        with pytest.raises(ConnectionClosed) as closed:
            client.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009
    assert functions.calls("DefaultFunction") == []


def test_every_request_is_logged_once(
    gateway: Gateway, functions: FakeFunctions, caplog: pytest.LogCaptureFixture
):
    # Given the gateway's logger at INFO
    caplog.set_level(logging.INFO, logger="localcloud.gateway")

    # When a client connects, sends one message and leaves
    with open_client(gateway) as client:
        client.send(json.dumps({"action": "submit"}))
        wait_until(lambda: functions.calls("SubmitFunction"))
    wait_until(lambda: functions.calls("DisconnectFunction"))

    # Then there is one line per request, naming the function
    def gateway_lines() -> list[str]:
        return [r.getMessage() for r in list(caplog.records) if r.name == "localcloud.gateway"]

    lines = wait_until(
        lambda: (lines := gateway_lines()) and lines[-1].startswith("DISCONNECT") and lines
    )
    assert len([line for line in lines if line.startswith("CONNECT ")]) == 1
    (message_line,) = [line for line in lines if line.startswith("MESSAGE ")]
    assert " submit 200 SubmitFunction " in message_line
    assert message_line.endswith("ms")


def test_binary_frame_from_client_closes_with_1003(gateway: Gateway, functions: FakeFunctions):
    # Given a connected client
    with open_client(gateway) as client:
        # When it sends a binary frame (API Gateway accepts only text from clients)
        client.send(b"\x00\x01")

        # Then the gateway closes the connection with "unsupported data"
        with pytest.raises(ConnectionClosed) as closed:
            client.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1003
    assert functions.calls("DefaultFunction") == []


def test_idle_connection_is_closed(functions: FakeFunctions):
    # Given an API with a short idle timeout
    gw = make_gateway(functions, idle_timeout_seconds=0.3)
    try:
        # When a client stays silent
        # Then the gateway closes it as "going away" and $disconnect runs
        with open_client(gw) as client, pytest.raises(ConnectionClosed) as closed:
            client.recv(timeout=5)
        (event,) = wait_until(lambda: functions.calls("DisconnectFunction"))
    finally:
        gw.stop()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1001
    assert event["requestContext"]["disconnectStatusCode"] == 1001


def test_stop_disconnects_every_client(functions: FakeFunctions):
    # Given two connected clients
    gw = make_gateway(functions)
    with contextlib.ExitStack() as clients:
        first = clients.enter_context(open_client(gw))
        second = clients.enter_context(open_client(gw))

        # When the gateway stops
        gw.stop()

        # Then both were closed and each got its $disconnect
        for client in (first, second):
            with pytest.raises(ConnectionClosed):
                client.recv(timeout=5)
    connected = {e["requestContext"]["connectionId"] for e in functions.calls("ConnectFunction")}
    disconnected = {
        e["requestContext"]["connectionId"] for e in functions.calls("DisconnectFunction")
    }
    assert disconnected == connected
    assert len(connected) == 2


def test_urls_name_the_stage_and_the_endpoint(gateway: Gateway):
    # Given a started WebSocket API
    # When its addresses are asked for
    endpoint = gateway.websocket_endpoint(API)

    # Then clients use the stage URL and !GetAtt ApiEndpoint is the bare endpoint
    assert endpoint.startswith("ws://127.0.0.1:")
    assert gateway.websocket_url(API) == f"{endpoint}/live"
    assert gateway.management_url(API) == endpoint.replace("ws://", "http://") + "/live"
