"""The @connections endpoint is the WebSocket stage URL over HTTP(S), by one rule everywhere."""

from __future__ import annotations

import pytest

from pipeline_common.websocket_stage import management_endpoint


@pytest.mark.parametrize(
    ("websocket", "management"),
    [
        (
            "wss://abc.execute-api.us-east-1.amazonaws.com/prod",
            "https://abc.execute-api.us-east-1.amazonaws.com/prod",
        ),
        ("ws://127.0.0.1:4510/prod", "http://127.0.0.1:4510/prod"),
        ("https://already.example/prod", "https://already.example/prod"),
    ],
)
def test_management_endpoint(websocket, management):
    assert management_endpoint(websocket) == management
