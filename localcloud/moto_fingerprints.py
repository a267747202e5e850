"""Every moto internal the local cloud replaces or wraps, pinned to the moto it was written for.

``moto_patches.py`` (behaviour fixes and hooks) and ``iam.py`` (IAM enforcement) change moto in
place. Each entry below names one internal they touch, which patch touches it and why, and a
fingerprint of that internal's source in ``MOTO_VERSION``. ``tests/unit/test_moto_patches.py``
recomputes the fingerprints in a fresh interpreter (no patch applied) and, for the patches that
fix a moto bug, shows the bug is still there. When moto is upgraded those tests name each patch
to re-read; once a patch is checked against the new source, print the new fingerprints with

    .venv/bin/python -m localcloud.moto_fingerprints

and paste them here (and drop a patch whose bug moto has fixed).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from dataclasses import dataclass
from typing import Any

MOTO_VERSION = "5.2.5"

_SFN_TASK = "moto.stepfunctions.parser.asl.component.state.exec.state_task.service"


@dataclass(frozen=True)
class Patched:
    target: str  # module path, then ":" and the attribute path inside it
    fingerprint: str  # sha256 of the target's source in MOTO_VERSION, first 16 hex digits
    patch: str  # the function that patches it
    why: str


PATCHED: tuple[Patched, ...] = (
    Patched(
        f"{_SFN_TASK}.state_task_service:StateTaskService._normalise_parameters",
        "dece59e76fd5e746",
        "moto_patches._patch_stepfunctions_normalisation",
        "a no-op in moto: Step Functions' PascalCase parameters reach boto3 as written",
    ),
    Patched(
        f"{_SFN_TASK}.state_task_service:StateTaskService._normalise_response",
        "00e0b0a50b1dd4ba",
        "moto_patches._patch_stepfunctions_normalisation",
        "a no-op in moto: integration responses keep boto3's casing",
    ),
    Patched(
        f"{_SFN_TASK}.state_task_service_ecs:StateTaskServiceEcs._build_sync_resolver",
        "6c540791a32b16b1",
        "moto_patches._patch_ecs_sync_failure",
        "moto reports success for any STOPPED task; AWS fails on a non-zero essential exit",
    ),
    Patched(
        f"{_SFN_TASK}.state_task_service_ecs:StateTaskServiceEcs._from_error",
        "1b5fce8960778380",
        "moto_patches._patch_ecs_sync_failure",
        "turns that failure into States.TaskFailed with the task description as its cause",
    ),
    Patched(
        "moto.ecs.models:EC2ContainerServiceBackend.run_task",
        "9876e846f6227ca6",
        "moto_patches._patch_ecs_run_task",
        "hook: moto starts nothing; the local task launcher runs the container as a process",
    ),
    Patched(
        "moto.ecs.models:EC2ContainerServiceBackend.stop_task",
        "a654973f4a4d4ec9",
        "moto_patches._patch_ecs_run_task",
        "hook: StopTask stops the local process",
    ),
    Patched(
        "moto.ecs.models:EC2ContainerServiceBackend._calculate_task_resource_requirements",
        "4c4587f8d68da43a",
        "moto_patches._patch_fargate_resource_requirements",
        "moto adds None for a Fargate container without memory (the task's memory applies)",
    ),
    Patched(
        "moto.ec2.models.elastic_network_interfaces:NetworkInterface",
        "6b96b24fe6c17e75",
        "moto_patches._patch_eni_private_dns_name",
        "awsvpc RunTask reads eni.private_dns_name, which moto's ENI lacks",
    ),
    Patched(
        "moto.stepfunctions.parser.asl.utils.json_path:_is_singleton_array_access",
        "27ecdbc1d2c011c8",
        "moto_patches._patch_definite_json_paths",
        "moto returns [value] for a definite path with an index mid-path; AWS a scalar",
    ),
    Patched(
        "moto.s3.notifications:_get_s3_event",
        "e3f2ed740c7b2971",
        "moto_patches._patch_s3_notification_records",
        "records lack versionId and sequencer, and keys encode '/' as %2F",
    ),
    Patched(
        "moto.sqs.models:Queue.add_message",
        "f27c9231c1f20433",
        "moto_patches._patch_sqs_fifo_deduplication",
        "a FIFO queue forgets a deduplication id once its message is deleted; SQS keeps 5 min",
    ),
    Patched(
        "moto.backends:list_of_moto_modules",
        "4f741a10b06500e8",
        "moto_patches._cache_moto_module_list",
        "lists moto's package folder on every request under the server's global lock; the "
        "folder never changes while the server runs, so it is listed once (speed only)",
    ),
    Patched(
        "moto.core.utils:method_names_from_class",
        "9dbac89d082b655f",
        "moto_patches._cache_method_names",
        "inspect.getmembers over the response class on every request; listed once per class "
        "(speed only)",
    ),
    Patched(
        "moto.dynamodb.responses:DynamoHandler.query",
        "681834c64038af93",
        "moto_patches._count_queries_without_copies",
        "Select=COUNT keeps only len(items) of what Table.query returns (speed only)",
    ),
    Patched(
        "moto.dynamodb.models.table:Table.query",
        "002b4d00be6df07c",
        "moto_patches._count_queries_without_copies",
        "deep-copies every matched item, then projects the copies onto the index: for a COUNT "
        "without a filter both hand the stored item through (speed only)",
    ),
    Patched(
        "moto.dynamodb.models.dynamo_type:Item.__deepcopy__",
        "7621d16ad7ce49d9",
        "moto_patches._count_queries_without_copies",
        "the copy Table.query makes, skipped while a COUNT without a filter runs",
    ),
    Patched(
        "moto.dynamodb.models.table:SecondaryIndex.project",
        "b2eb603ebd167860",
        "moto_patches._count_queries_without_copies",
        "the projection Table.query makes, skipped while a COUNT without a filter runs",
    ),
    Patched(
        "moto.core.authorization:ActionAuthenticatorMixin._authenticate_and_authorize_action",
        "f8cfc0296ca017fa",
        "iam._patch_authentication",
        "expired session tokens, CORS preflight and presigned S3 URLs are checked as on AWS",
    ),
    Patched(
        "moto.core.authorization:ActionAuthenticatorMixin.PUBLIC_OPERATIONS",
        "aa247b49bbedc598",
        "iam._patch_public_cognito_operations",
        "Cognito operations AWS answers without SigV4 that moto's list lacks",
    ),
    Patched(
        "moto.iam.access_control:IAMRequestBase.__init__",
        "b606a83700ae8354",
        "iam._patch_action_names",
        "operations whose IAM action has another name (IAM_ACTION_OF_OPERATION)",
    ),
    Patched(
        "moto.core.responses:BaseResponse.call_action",
        "26076963fd17fd1a",
        "iam._patch_resources",
        "calls self._determine_resource() when a response class has one: moto's DynamoDB, "
        "Kinesis, SNS, Step Functions, Secrets Manager and ECS have none (every call is "
        "authorized against '*'); ours name the resource's ARN",
    ),
    Patched(
        "moto.sqs.responses:SQSResponse._determine_resource",
        "2d296f32b0b00856",
        "iam._patch_sqs_resource",
        "CreateQueue and GetQueueUrl name the queue instead of its URL",
    ),
    Patched(
        "moto.stepfunctions.parser.asl.utils.boto_client:boto_client_for",
        "1f44dc2ac8aa2179",
        "iam._patch_stepfunctions_credentials",
        "state machine integrations call AWS with the state machine's role, not fixed keys",
    ),
)


def resolve(target: str) -> Any:
    module_name, _, attributes = target.partition(":")
    value: Any = importlib.import_module(module_name)
    for name in attributes.split("."):
        value = getattr(value, name)
    return value


def fingerprint(target: str) -> str:
    """The source of a function or class (or the repr of a constant such as a list)."""
    value = resolve(target)
    try:
        text = inspect.getsource(value)
    except TypeError:
        text = repr(value)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def main() -> None:
    import moto

    print(f'MOTO_VERSION = "{moto.__version__}"')
    for entry in PATCHED:
        print(f"{fingerprint(entry.target)}  {entry.target}")


if __name__ == "__main__":
    main()
