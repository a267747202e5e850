"""WsDisconnectFunction: the WebSocket API's ``$disconnect`` route."""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_websocket_event import (
    APIGatewayWebSocketEvent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from ws_disconnect_logic import forget_connection
from ws_disconnect_settings import WsDisconnectSettings

from pipeline_common.observability import logger, tracer

settings = WsDisconnectSettings()  # type: ignore[call-arg]  # values come from the environment


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@event_source(data_class=APIGatewayWebSocketEvent)
def lambda_handler(event: APIGatewayWebSocketEvent, context: LambdaContext) -> dict:
    return forget_connection(connection_id=event.request_context.connection_id, settings=settings)
