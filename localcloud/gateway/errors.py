"""What the gateway tells apart: a handler that raised, an integration too slow, a bad answer."""

from __future__ import annotations


class FunctionError(Exception):
    """The Lambda handler raised: ``error_type`` is its exception class, ``message`` its text.

    The function runtime raises this from ``invoke``; the gateway maps it the way API Gateway
    maps a failed Lambda integration (502 for REST, an error frame for WebSocket messages).
    """

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


class IntegrationTimeout(Exception):
    """The function did not answer within the integration timeout (29 s on API Gateway)."""


class MalformedResponse(Exception):
    """A function's answer does not have the shape API Gateway requires (a configuration error)."""
