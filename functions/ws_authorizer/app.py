"""WsAuthorizerFunction: the REQUEST authorizer of the WebSocket API's ``$connect`` route."""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from ws_authorizer_logic import authorize
from ws_authorizer_settings import WsAuthorizerSettings

from pipeline_common.contracts.common import utc_now
from pipeline_common.observability import logger, tracer

settings = WsAuthorizerSettings()  # type: ignore[call-arg]  # values come from the environment


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@event_source(data_class=APIGatewayAuthorizerRequestEvent)
def lambda_handler(event: APIGatewayAuthorizerRequestEvent, context: LambdaContext) -> dict:
    query = event.query_string_parameters
    # Whatever arrives, a query that is not a mapping of strings is a Deny, never a 500.
    ticket = query.get("ticket") if isinstance(query, dict) else None
    return authorize(ticket=ticket, method_arn=event.method_arn, now=utc_now(), settings=settings)
