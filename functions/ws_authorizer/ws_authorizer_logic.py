"""Allow a WebSocket connection only for a client id with a valid, unexpired token.

The answer is an IAM policy on the route's ``methodArn``: Allow with ``context.client_id`` (which
``$connect`` stores with the connection), or Deny (API Gateway answers 403). The token itself is
never logged.
"""

from __future__ import annotations

import re
from typing import Any

from ws_authorizer_settings import WsAuthorizerSettings

from pipeline_common import tokens
from pipeline_common.contracts.jobs import JOB_ID_PATTERN
from pipeline_common.observability import logger

ANONYMOUS = "anonymous"


def policy(*, principal_id: str, effect: str, method_arn: str, client_id: str | None) -> dict:
    answer: dict[str, Any] = {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": method_arn}
            ],
        },
    }
    if client_id is not None:
        answer["context"] = {"client_id": client_id}
    return answer


def authorize(
    *,
    client_id: str | None,
    token: str | None,
    method_arn: str,
    settings: WsAuthorizerSettings,
) -> dict:
    if not client_id or not re.fullmatch(JOB_ID_PATTERN, client_id):
        logger.info("connection denied", extra={"reason": "missing or malformed client_id"})
        return policy(principal_id=ANONYMOUS, effect="Deny", method_arn=method_arn, client_id=None)
    try:
        tokens.verify(client_id, token or "", tokens.signing_key(settings.token_secret_arn))
    except tokens.TokenError as exc:
        logger.info("connection denied", extra={"client_id": client_id, "reason": str(exc)})
        return policy(principal_id=client_id, effect="Deny", method_arn=method_arn, client_id=None)
    logger.info("connection allowed", extra={"client_id": client_id})
    return policy(
        principal_id=client_id, effect="Allow", method_arn=method_arn, client_id=client_id
    )
