"""Live WebSocket connections of one API, as the @connections management API sees them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from localcloud.gateway.websocket_events import ConnectionInfo


@dataclass(eq=False)
class Connection:
    info: ConnectionInfo
    socket: web.WebSocketResponse
    authorizer: dict[str, Any] | None
    last_active_at: int
    # Set once $disconnect has been delivered (or skipped): what stop() waits for.
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    pending: set[asyncio.Task] = field(default_factory=set)
    # The status the $disconnect event reports: the client's close frame, or the gateway's own.
    close_code: int | None = None
    close_reason: str | None = None

    def closing(self, code: int, reason: str) -> None:
        """Record why the socket ends; the first cause wins (a close races its echo)."""
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason

    @property
    def connection_id(self) -> str:
        return self.info.connection_id


class ConnectionRegistry:
    """Only established connections: one still in $connect, or closing, is gone (410)."""

    def __init__(self) -> None:
        self._live: dict[str, Connection] = {}
        self._all: set[Connection] = set()

    def add(self, connection: Connection) -> None:
        self._live[connection.connection_id] = connection
        self._all.add(connection)

    def get(self, connection_id: str) -> Connection | None:
        connection = self._live.get(connection_id)
        if connection is None or connection.socket.closed:
            return None
        return connection

    def remove(self, connection: Connection) -> None:
        self._live.pop(connection.connection_id, None)

    def forget(self, connection: Connection) -> None:
        self.remove(connection)
        self._all.discard(connection)

    def every(self) -> list[Connection]:
        """Every connection whose handler has not finished, live or closing."""
        return list(self._all)
