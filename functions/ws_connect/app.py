"""WsConnectFunction: the WebSocket API's ``$connect`` route (after the authorizer allowed it)."""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_websocket_event import (
    APIGatewayWebSocketEvent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from ws_connect_logic import register_connection
from ws_connect_settings import WsConnectSettings

from pipeline_common.contracts.common import utc_now
from pipeline_common.observability import logger, tracer

settings = WsConnectSettings()  # type: ignore[call-arg]  # values come from the environment


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@event_source(data_class=APIGatewayWebSocketEvent)
def lambda_handler(event: APIGatewayWebSocketEvent, context: LambdaContext) -> dict:
    authorizer = event.request_context.get("authorizer") or {}
    return register_connection(
        connection_id=event.request_context.connection_id,
        client_id=authorizer.get("client_id"),
        owner=authorizer.get("owner"),
        now=utc_now(),
        settings=settings,
    )
