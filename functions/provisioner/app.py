"""ProvisionerFunction: the caller's clients.

- ``POST /clients``: a client bound to the caller and a first one-time WebSocket ticket (429
  over the per-user cap or creation rate); a poll client reads ``GET /results``, no queue;
- ``POST /clients/{client_id}/tickets``: another one-time ticket for one of the caller's clients;
- ``DELETE /clients/{client_id}``: the client and its live connections (and the queue and
  subscription of a poll client provisioned before poll mode read JobsTable).

The caller comes from the Cognito authorizer's claims only; another user's client is a 404.
"""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from provisioner_logic import issue_ticket, provision_client
from provisioner_settings import ProvisionerSettings
from provisioner_teardown import delete_client

from pipeline_common.contracts.clients import CreateClientRequest
from pipeline_common.contracts.common import utc_now
from pipeline_common.http import json_response, parse_body, rest_resolver
from pipeline_common.identity import caller_from_event
from pipeline_common.observability import logger, metrics, tracer

settings = ProvisionerSettings()  # type: ignore[call-arg]  # values come from the environment
app = rest_resolver()


@app.post("/clients")
def create_client() -> Response:
    caller = caller_from_event(app.current_event.raw_event)
    request = parse_body(app, CreateClientRequest, max_bytes=settings.max_body_bytes)
    created = provision_client(
        owner=caller.owner_id, delivery=request.delivery, now=utc_now(), settings=settings
    )
    return json_response(created, HTTPStatus.CREATED)


@app.post("/clients/<client_id>/tickets")
def create_ticket(client_id: str) -> Response:
    caller = caller_from_event(app.current_event.raw_event)
    ticket = issue_ticket(
        owner=caller.owner_id, client_id=client_id, now=utc_now(), settings=settings
    )
    return json_response(ticket, HTTPStatus.CREATED)


@app.delete("/clients/<client_id>")
def remove_client(client_id: str) -> Response:
    caller = caller_from_event(app.current_event.raw_event)
    delete_client(owner=caller.owner_id, client_id=client_id, now=utc_now(), settings=settings)
    return Response(status_code=HTTPStatus.NO_CONTENT.value, body=None)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
