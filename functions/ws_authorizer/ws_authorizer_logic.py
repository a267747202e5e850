"""Allow a WebSocket connection only for a fresh, unused ticket of a live client.

The ticket (``?ticket=``) was minted by ``POST /clients`` or ``POST /clients/{id}/tickets`` for
one of its user's clients. It is spent here whatever the outcome, in one conditional delete, so
of two connections racing with one ticket exactly one is allowed. The client must still exist,
be live and belong to the ticket's user: deleting or expiring a client between minting and
connecting voids its tickets.

The answer is an IAM policy on the route's ``methodArn``: Allow with ``principalId`` = the owner
and ``context`` ``{client_id, owner}`` (which ``$connect`` stores with the connection), or Deny
(API Gateway answers 403). Anything malformed is a Deny, never an error. The ticket itself is
never logged, only ``tickets.fingerprint``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ws_authorizer_settings import WsAuthorizerSettings

from pipeline_common import tickets
from pipeline_common.observability import logger
from pipeline_common.tables.clients import live_client_of

ANONYMOUS = "anonymous"


def policy(
    *, principal_id: str, effect: str, method_arn: str, context: dict[str, str] | None = None
) -> dict:
    answer: dict[str, Any] = {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": method_arn}
            ],
        },
    }
    if context is not None:
        answer["context"] = context
    return answer


def deny(method_arn: str, reason: str, **log: str) -> dict:
    logger.info("connection denied", extra={"reason": reason, **log})
    return policy(principal_id=ANONYMOUS, effect="Deny", method_arn=method_arn)


def authorize(
    *, ticket: object, method_arn: str, now: datetime, settings: WsAuthorizerSettings
) -> dict:
    if not isinstance(ticket, str) or not tickets.is_well_formed(ticket):
        return deny(method_arn, "missing or malformed ticket")
    fingerprint = tickets.fingerprint(ticket)
    spent = tickets.consume(ticket, table=settings.tickets_table, now=now)
    if spent is None:
        return deny(method_arn, "unknown, used or expired ticket", ticket=fingerprint)
    client = live_client_of(settings.clients_table, spent.client_id, owner=spent.owner, now=now)
    if client is None:
        return deny(
            method_arn,
            "the ticket's client was deleted or has expired",
            ticket=fingerprint,
            client_id=spent.client_id,
        )
    logger.info(
        "connection allowed",
        extra={"ticket": fingerprint, "client_id": spent.client_id, "owner": spent.owner},
    )
    return policy(
        principal_id=spent.owner,
        effect="Allow",
        method_arn=method_arn,
        context={"client_id": spent.client_id, "owner": spent.owner},
    )
