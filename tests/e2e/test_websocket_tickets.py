"""One-time WebSocket tickets on the local cloud (issue 10): ``POST /clients`` and
``POST /clients/{id}/tickets`` mint them for the caller's own client, ``$connect?ticket=`` spends
one atomically, and deleting a client closes its live sockets."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from localcloud.cloud import LocalCloud
from pipeline_common.tables.connections import CLIENT_INDEX
from tests.e2e.conftest import RestApi
from tests.support.users import StackUser
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def carol(new_user: Callable[..., StackUser]) -> StackUser:
    return new_user("carol")


@pytest.fixture(scope="module")
def dave(new_user: Callable[..., StackUser]) -> StackUser:
    return new_user("dave")


def _client(rest: RestApi, user: StackUser) -> dict[str, Any]:
    response = rest("POST", "/clients", user=user, json={"delivery": "push"})
    assert response.status_code == 201, response.text
    return response.json()


def _ticket(rest: RestApi, user: StackUser, client_id: str) -> str:
    response = rest("POST", f"/clients/{client_id}/tickets", user=user)
    assert response.status_code == 201, response.text
    ticket: str = response.json()["ticket"]
    return ticket


def _open(stack: LocalCloud, ticket: str) -> ClientConnection:
    url = f"{stack.outputs['WebsocketUrl']}?{urlencode({'ticket': ticket})}"
    return connect(url, open_timeout=60)


def _refusal(stack: LocalCloud, ticket: str) -> int | None:
    """The handshake's HTTP status when refused; None when the socket opened."""
    try:
        with _open(stack, ticket):
            return None
    except InvalidStatus as exc:
        return int(exc.response.status_code)


def _connections_of(stack: LocalCloud, client_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = stack.client("dynamodb").query(
        TableName=stack.outputs["ConnectionsTableName"],
        IndexName=CLIENT_INDEX,
        KeyConditionExpression="client_id = :c",
        ExpressionAttributeValues={":c": {"S": client_id}},
    )["Items"]
    return items


def test_a_ticket_opens_one_connection_bound_to_its_client_and_owner(stack, rest, carol):
    # Given a client and the ticket POST /clients answered with
    client = _client(rest, carol)

    # When the ticket is used
    with _open(stack, client["ticket"]):
        # Then the socket is open, recorded for that client and that user
        [row] = wait_for(
            lambda: _connections_of(stack, client["client_id"]), timeout=10, what="the row"
        )
        assert row["owner"]["S"] == carol.sub


def test_a_spent_ticket_is_refused(stack, rest, carol):
    # Given a ticket that opened a connection
    client = _client(rest, carol)
    ticket = _ticket(rest, carol, client["client_id"])
    assert _refusal(stack, ticket) is None

    # When it is used again
    status = _refusal(stack, ticket)

    # Then the gateway refuses the handshake (the authorizer denied it)
    assert status == 403


def test_two_handshakes_racing_with_one_ticket_open_one_socket(stack, rest, carol):
    # Given one fresh ticket
    client = _client(rest, carol)
    ticket = _ticket(rest, carol, client["client_id"])

    # When two connections try it at the same moment
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(lambda _: _refusal(stack, ticket) or 101, range(2)))

    # Then exactly one opens
    assert outcomes == [101, 403]


def test_an_expired_ticket_is_refused(stack, rest, carol):
    # Given a ticket whose 60 s are over (moved back in time rather than waited for)
    client = _client(rest, carol)
    ticket = _ticket(rest, carol, client["client_id"])
    stack.client("dynamodb").update_item(
        TableName=stack.outputs["TicketsTableName"],
        Key={"ticket_hash": {"S": hashlib.sha256(ticket.encode()).hexdigest()}},
        UpdateExpression="SET expires_at = :past",
        ConditionExpression="attribute_exists(ticket_hash)",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )

    # When it is used
    status = _refusal(stack, ticket)

    # Then it is refused and no connection is recorded
    assert status == 403
    assert _connections_of(stack, client["client_id"]) == []


def test_no_ticket_can_be_minted_for_someone_elses_client(stack, rest, carol, dave):
    # Given Carol's client
    client = _client(rest, carol)
    tickets = stack.client("dynamodb")

    # When Dave asks for a ticket for it
    response = rest("POST", f"/clients/{client['client_id']}/tickets", user=dave)

    # Then it is "not found", as for a client that does not exist, and no ticket was stored
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"
    stored = tickets.scan(
        TableName=stack.outputs["TicketsTableName"],
        FilterExpression="#o = :dave",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":dave": {"S": dave.sub}},
    )["Items"]
    assert stored == []


def test_deleting_a_client_closes_its_socket(stack, rest, carol):
    # Given a client with an open socket
    client = _client(rest, carol)
    with _open(stack, client["ticket"]) as socket:
        wait_for(lambda: _connections_of(stack, client["client_id"]), timeout=10, what="the row")

        # When its owner deletes it
        response = rest("DELETE", f"/clients/{client['client_id']}", user=carol)
        assert response.status_code == 204, response.text

        # Then the socket is closed by the server, its row is gone, and no new ticket is minted
        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=30)
    wait_for(
        lambda: _connections_of(stack, client["client_id"]) == [],
        timeout=10,
        what="the connection rows' removal",
    )
    again = rest("POST", f"/clients/{client['client_id']}/tickets", user=carol)
    assert again.status_code == 404, again.text


def test_an_expired_client_has_its_socket_closed(stack, rest, carol):
    # Given a client with an open socket
    client = _client(rest, carol)
    with _open(stack, client["ticket"]) as socket:
        wait_for(lambda: _connections_of(stack, client["client_id"]), timeout=10, what="the row")

        # When its row expires (DynamoDB's TTL sweep deletes it: the same stream record)
        stack.client("dynamodb").delete_item(
            TableName=stack.outputs["ClientsTableName"],
            Key={"client_id": {"S": client["client_id"]}},
        )

        # Then the server closes the socket
        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=30)
