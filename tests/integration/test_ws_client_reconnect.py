"""The client's wait loop against a real WebSocket server on localhost: it submits once
connected, survives a dropped connection (reconnecting with a fresh ticket), checks the job over
REST after reconnecting, ignores other messages, and returns its own job's result; a server that
keeps refusing its tickets ends the wait with a clear error."""

from __future__ import annotations

import asyncio
import json
from itertools import count, repeat
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Response

from clients import ws_client

JOB = "7c9e6679742540de944be07fc1f90ae7"
RESULT = {"kind": "job.result", "job_id": JOB, "status": "DONE", "client_id": "c" * 32}


class FakeApi:
    def __init__(self, job_view: dict[str, Any]):
        self.submitted: list[tuple[str, dict[str, Any]]] = []
        self.job_reads = 0
        self.job_view = job_view

    def submit(self, algo_id: str, body: dict[str, Any]) -> dict[str, Any]:
        self.submitted.append((algo_id, body))
        return {"job_id": body["job_id"], "status": "QUEUED"}

    def job(self, job_id: str) -> dict[str, Any]:
        self.job_reads += 1
        return self.job_view


async def run_against(
    handler, api: FakeApi, process_request=None
) -> tuple[dict[str, Any], list[str]]:
    queries: list[str] = []
    tickets = count(1)

    async def recording(connection: ServerConnection) -> None:
        queries.append(connection.request.path)
        await handler(connection, len(queries))

    async with serve(recording, "127.0.0.1", 0, process_request=process_request) as server:
        port = server.sockets[0].getsockname()[1]
        base = f"ws://127.0.0.1:{port}/prod"
        result = await asyncio.wait_for(
            ws_client.wait_for_result(
                connect_url=lambda: ws_client.websocket_url(base, f"t{next(tickets)}"),
                job_id=JOB,
                algo_id="processing_1",
                body={"client_id": "c" * 32, "job_id": JOB},
                api=api,
                delays=lambda: repeat(0.01),
                log=lambda line: None,
            ),
            timeout=20,
        )
    return result, queries


def test_a_result_pushed_after_a_reconnect_is_received():
    # Given a server that drops the first connection, then pushes noise and our result
    async def handler(connection: ServerConnection, nth: int) -> None:
        if nth == 1:
            await connection.close()
            return
        await connection.send(json.dumps({**RESULT, "job_id": "someone-elses-job"}))
        await connection.send("not json at all")
        await connection.send(json.dumps(RESULT))
        await connection.wait_closed()

    api = FakeApi(job_view={"job_id": JOB, "status": "RUNNING"})

    result, queries = asyncio.run(run_against(handler, api))

    # Then the job was submitted once, checked once after the reconnect, and its result returned
    assert result == RESULT
    assert [algo for algo, _ in api.submitted] == ["processing_1"]
    assert api.job_reads == 1
    assert queries == ["/prod?ticket=t1", "/prod?ticket=t2"]  # a fresh ticket per connection


def test_a_result_missed_while_disconnected_comes_from_rest():
    # Given a server that never pushes and drops the first connection
    async def handler(connection: ServerConnection, nth: int) -> None:
        if nth == 1:
            await connection.close()
            return
        await connection.wait_closed()

    api = FakeApi(job_view={"job_id": JOB, "status": "DONE", "result": RESULT})

    result, _ = asyncio.run(run_against(handler, api))

    assert result == RESULT
    assert api.job_reads == 1


def test_tickets_refused_again_and_again_end_the_wait_with_a_clear_error():
    # Given a gateway whose authorizer denies every ticket (403 on the handshake)
    def deny(connection: ServerConnection, request: Any) -> Response:
        return connection.respond(403, "Forbidden\n")

    async def never(connection: ServerConnection, nth: int) -> None:
        raise AssertionError("no connection may open")

    api = FakeApi(job_view={})

    # When the client tries / Then it gives up after a few fresh tickets, saying what to do
    with pytest.raises(ws_client.UserFacingError, match="--new-client"):
        asyncio.run(run_against(never, api, process_request=deny))
    assert api.submitted == []
