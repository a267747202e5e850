"""Starting one execution under a deterministic name."""

from __future__ import annotations

from botocore.exceptions import ClientError

from pipeline_common.aws import client, error_code


def start_execution(state_machine_arn: str, name: str, execution_input: str) -> bool:
    """Start the execution; False when one of that name already exists (a redelivered
    notification, or a retry after a partial failure), which is success for a dispatcher."""
    try:
        client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn, name=name, input=execution_input
        )
    except ClientError as exc:
        if error_code(exc) == "ExecutionAlreadyExists":
            return False
        raise
    return True
