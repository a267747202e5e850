"""The load generator's listener against a real WebSocket server on localhost: a handshake the
gateway refuses is retried with a fresh ticket (tickets are one-time), and a listener that cannot
connect at all fails with its own error instead of a bare timeout."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import InvalidStatus
from websockets.http11 import Response

from clients import load

JOB = "7c9e6679742540de944be07fc1f90ae7"


class TicketApi:
    def __init__(self) -> None:
        self.minted: list[str] = []

    def ticket(self, client_id: str) -> dict[str, str]:
        self.minted.append(f"t{len(self.minted) + 1}")
        return {"ticket": self.minted[-1], "client_id": client_id}


async def listen_once(refuse: set[str]) -> tuple[load.LoadReport, list[str], TicketApi]:
    seen: list[str] = []

    def authorize(connection: ServerConnection, request: Any) -> Response | None:
        seen.append(request.path)
        if request.path.partition("?ticket=")[2] in refuse:
            return connection.respond(403, "Forbidden\n")
        return None

    async def push(connection: ServerConnection) -> None:
        await connection.send(json.dumps({"kind": "job.result", "job_id": JOB, "status": "DONE"}))
        await connection.wait_closed()

    api, report = TicketApi(), load.LoadReport()
    connected, done = asyncio.Event(), asyncio.Event()
    async with serve(push, "127.0.0.1", 0, process_request=authorize) as server:
        base = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/prod"
        client = {"client_id": "c" * 32, "ticket": "t0"}
        listener = asyncio.create_task(
            load._listen(api, base, client, report, connected, done)  # type: ignore[arg-type]
        )
        await load._all_connected([connected], [listener], timeout=10)
        while JOB not in report.pushed:
            await asyncio.sleep(0.05)
        done.set()
        await listener
    return report, seen, api


def test_a_refused_handshake_is_retried_with_a_fresh_ticket():
    # Given a gateway that refuses the first ticket
    report, seen, api = asyncio.run(listen_once(refuse={"t0"}))

    # Then the listener minted a new ticket, connected with it and received the push
    assert seen == ["/prod?ticket=t0", "/prod?ticket=t1"]
    assert api.minted == ["t1"]
    assert report.pushed[JOB][0][0] == "c" * 32


def test_a_listener_that_cannot_connect_fails_with_its_reason():
    # Given a gateway that refuses every ticket
    refuse = {"t0", *(f"t{n}" for n in range(1, load.CONNECT_ATTEMPTS + 1))}

    # When / Then the wait ends with the handshake's own error
    with pytest.raises(InvalidStatus, match="403"):
        asyncio.run(listen_once(refuse=refuse))
