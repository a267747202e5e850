"""IAM in the local cloud: an administrator for the set-up, a role per function, state machine
and task, and moto's policy evaluation switched on.

- ``sam_roles``: the roles SAM generates for functions and state machines without a ``Role``,
  taken from SAM's own translator (policy templates expanded as on AWS, the basic execution and
  X-Ray managed policies, the event source and destination policies SAM adds).
- ``LocalIam``: creates the administrator user, every role of the template with its inline and
  managed policies, and assumes a role on behalf of a service principal (Lambda, ECS, Step
  Functions), the way the service does: the trust policy names the service, not a user.
- ``patch_moto``: what moto's enforcement lacks for this template. moto checks the resource of a
  call only for S3, SQS and IAM/STS ("*" for every other service, which a statement scoped to an
  ARN never matches); the patch gives DynamoDB, Kinesis, SNS, Step Functions, Secrets Manager and
  ECS calls their resource ARN, and SQS's CreateQueue/GetQueueUrl theirs. S3 presigned URLs and
  POST policies carry their credentials in the query or form (moto expects an Authorization
  header); assumed-role credentials expire; Step Functions' service integrations call with the
  state machine's role (moto used fixed keys).
- ``authorize``: evaluates one call against the caller's policies with moto's own classes (the
  local ``@connections`` API's ``execute-api:ManageConnections``).
"""

# Patching moto's internals is untyped by nature.
# mypy: disable-error-code="method-assign,attr-defined,assignment"

from __future__ import annotations

import copy
import datetime
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from localcloud.errors import TemplateError
from localcloud.intrinsics import Resolver
from localcloud.template import Template, load_yaml

log = logging.getLogger("localcloud.iam")

ADMIN_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
_URI_PROPERTIES = ("CodeUri", "ContentUri", "DefinitionUri")
_CREDENTIAL_SECONDS = 3600


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    expiration: float | None = None  # epoch seconds; None for a user's long-term key

    def env(self) -> dict[str, str]:
        """The variables the SDKs read (what Lambda puts in a function's environment)."""
        env = {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
        }
        if self.session_token:
            env["AWS_SESSION_TOKEN"] = self.session_token
        return env


# -- the roles SAM generates ----------------------------------------------------------------------
def sam_roles(template_path: Path) -> dict[str, dict[str, Any]]:
    """``{function or state machine logical id: generated role properties}``, from SAM's
    translator run on the template (code URIs stand in as S3 URIs, as ``sam package`` does)."""
    return copy.deepcopy(_sam_roles(template_path.resolve(), template_path.stat().st_mtime_ns))


@cache
def _sam_roles(template_path: Path, _mtime: int) -> dict[str, dict[str, Any]]:
    import boto3
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    document = copy.deepcopy(load_yaml(template_path))
    serverless = {}
    for logical_id, body in (document.get("Resources") or {}).items():
        props = body.get("Properties") or {}
        for key in _URI_PROPERTIES:
            if isinstance(props.get(key), str):
                props[key] = f"s3://localcloud/{props[key]}"
        serverless_types = ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")
        if body.get("Type") in serverless_types and "Role" not in props:
            serverless[logical_id] = f"{logical_id}Role"
    # The region only fills SAM's pseudo parameters; the ARNs keep ${AWS::Region} for later.
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name="us-east-1"))
    try:
        translated = translator.translate(document, {}, get_managed_policy_map=dict)
    except InvalidDocumentException as exc:
        raise TemplateError(f"SAM cannot translate {template_path}: {exc}") from exc
    resources = translated["Resources"]
    return {
        owner: resources[role]["Properties"]
        for owner, role in serverless.items()
        if role in resources
    }


def managed_policy_document(arn: str) -> dict[str, Any]:
    """An AWS managed policy's document, from the copy moto ships (moto loads none by default)."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    name = arn.rsplit("/", 1)[-1]
    policies = json.loads(aws_managed_policies_data)
    if name not in policies:
        raise TemplateError(f"managed policy {arn}: unknown to moto's copy of AWS's policies")
    return dict(policies[name]["Document"])


def role_name(stack: str, logical_id: str) -> str:
    return f"{stack}-{logical_id}"[:64]


# -- users, roles and sessions --------------------------------------------------------------------
class LocalIam:
    """The account's IAM, as the local cloud needs it (moto's backends, in this process)."""

    def __init__(self, *, account_id: str, region: str, stack_name: str) -> None:
        self.account_id = account_id
        self.region = region
        self.stack = stack_name
        self.role_arns: dict[str, str] = {}  # logical id (role, function, state machine) -> ARN

    @property
    def _iam(self) -> Any:
        from moto.iam.models import iam_backends

        return iam_backends[self.account_id]["aws"]

    @property
    def _sts(self) -> Any:
        from moto.sts.models import sts_backends

        return sts_backends[self.account_id]["aws"]

    def create_admin(self) -> AccessKey:
        """The user that sets the stack up (and that tests and CLIs use, as its operator).

        Created in moto's backend directly: nobody can be authorized to create the first
        user of an account (on AWS, the root user does)."""
        name = f"{self.stack}-localcloud-admin"[:64]
        iam = self._iam
        if name in iam.users:
            user = iam.users[name]
            user.access_keys.clear()
        else:
            iam.create_user(self.region, name)
        iam.put_user_policy(name, "AdministratorAccess", json.dumps(ADMIN_POLICY))
        key = iam.get_user(name).create_access_key(prefix="AKIA")
        return AccessKey(key.access_key_id, key.secret_access_key)

    def create_roles(
        self, template: Template, resolver: Resolver, client: Callable[[str], Any]
    ) -> None:
        """Every ``AWS::IAM::Role`` of the template gets its policies (the provisioner created
        the role), and every function and state machine its SAM-generated role. ``client``
        gives the administrator's clients: these are ordinary, authorized IAM calls."""
        iam = client("iam")
        for role in template.of_type("AWS::IAM::Role"):
            if role.condition and not resolver.condition(role.condition):
                continue
            name = resolver.refs[role.logical_id]
            self._put_policies(iam, name, resolver.resolve(role.properties))
            self.role_arns[role.logical_id] = resolver.get_att(role.logical_id, "Arn")
        generated = sam_roles(template.path)
        for owner, unresolved in generated.items():
            resource = template.resources[owner]
            if resource.condition and not resolver.condition(resource.condition):
                continue
            props = resolver.resolve(unresolved)
            name = role_name(self.stack, f"{owner}Role")
            if resource.type == "AWS::Serverless::StateMachine":
                # The provisioner created the state machine with a role ARN: use that name.
                machine = client("stepfunctions").describe_state_machine(
                    stateMachineArn=resolver.refs[owner]
                )
                name = str(machine["roleArn"]).rsplit("/", 1)[-1]
            arn = iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]),
            )["Role"]["Arn"]
            self._put_policies(iam, name, props)
            self.role_arns[owner] = arn
        for owner, resource in template.resources.items():
            if resource.type in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
                explicit = resource.properties.get("Role")
                if explicit is not None and owner not in self.role_arns:
                    self.role_arns[owner] = str(resolver.resolve(explicit))

    def _put_policies(self, client: Any, name: str, props: dict[str, Any]) -> None:
        for policy in props.get("Policies", []):
            # SAM's expanded policy templates carry no Version: IAM then reads them as
            # 2008-10-17 (no policy variables, which they do not use); moto insists on one.
            document = {"Version": "2012-10-17", **policy["PolicyDocument"]}
            client.put_role_policy(
                RoleName=name,
                PolicyName=policy["PolicyName"],
                PolicyDocument=json.dumps(document),
            )
        for arn in props.get("ManagedPolicyArns", []):
            # moto loads no AWS managed policy by default: the same document, inline.
            client.put_role_policy(
                RoleName=name,
                PolicyName=f"aws-managed-{arn.rsplit('/', 1)[-1]}",
                PolicyDocument=json.dumps(managed_policy_document(arn)),
            )

    def assume_role(
        self, role_arn: str, session_name: str, duration: int = _CREDENTIAL_SECONDS
    ) -> AccessKey:
        """Temporary credentials for ``role_arn``, as its service principal gets them (the
        trust policy names ``lambda.amazonaws.com`` and the like, so no user may call
        ``sts:AssumeRole`` for them: the service asks STS itself)."""
        assumed = self._sts.assume_role(
            region_name=self.region,
            role_session_name=session_name[:64],
            role_arn=role_arn,
            policy="",
            duration=duration,
            external_id="",
        )
        expiration = assumed.expiration.replace(tzinfo=datetime.UTC).timestamp()
        return AccessKey(
            assumed.access_key_id, assumed.secret_access_key, assumed.session_token, expiration
        )


class RoleSessions:
    """Cached temporary credentials per role, renewed when less than ``margin`` seconds remain
    (as the Lambda and ECS agents renew theirs before expiry)."""

    def __init__(
        self,
        assume: Callable[[str, str, int], AccessKey],
        *,
        duration: int = _CREDENTIAL_SECONDS,
        margin: float = 1200.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._assume = assume
        self.duration = duration
        self.margin = margin
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, AccessKey] = {}
        self.assumed = 0

    def get(self, role_arn: str, session_name: str = "localcloud") -> AccessKey:
        with self._lock:
            key = self._cache.get(role_arn)
            if key is None or (key.expiration or 0) - self._clock() < self.margin:
                key = self._assume(role_arn, session_name, self.duration)
                self._cache[role_arn] = key
                self.assumed += 1
            return key


# -- evaluating one call --------------------------------------------------------------------------
class AccessDenied(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_ERROR_TYPES = {
    "AccessDenied": "AccessDeniedException",
    "InvalidClientTokenId": "UnrecognizedClientException",
    "SignatureDoesNotMatch": "InvalidSignatureException",
}


def authorize(
    *,
    account_id: str,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    resource: str,
    action: str,
) -> None:
    """Check a SigV4-signed request: its signature, that its keys are live, and that its
    caller's policies allow ``action`` on ``resource`` (moto's evaluation of the user's or the
    assumed role's inline and attached policies). Raises ``AccessDenied``."""
    from moto.core.exceptions import _RESTError
    from moto.iam.access_control import IAMRequest

    if "Authorization" not in headers:
        raise AccessDenied("MissingAuthenticationTokenException", "Missing Authentication Token")
    operation = action.partition(":")[2]
    try:
        request = IAMRequest(
            account_id=account_id,
            method=method,
            path=path,
            data={},
            body=body,
            headers=headers,
            action=operation,
        )
        _check_not_expired(account_id, headers)
        request.check_signature()
        request.check_action_permitted(resource)
    except _RESTError as exc:
        error_type = _ERROR_TYPES.get(exc.error_type, exc.error_type)
        raise AccessDenied(error_type, exc.message) from None


def management_authorizer(
    account_id: str,
) -> Callable[[str, str, dict[str, str], bytes, str], tuple[str, str] | None]:
    """The local ``@connections`` API's check of ``execute-api:ManageConnections``."""

    def check(
        method: str, path: str, headers: dict[str, str], body: bytes, resource: str
    ) -> tuple[str, str] | None:
        if settings_enforced() is False:
            return None
        try:
            authorize(
                account_id=account_id,
                method=method,
                path=path,
                headers=headers,
                body=body,
                resource=resource,
                action="execute-api:ManageConnections",
            )
        except AccessDenied as exc:
            log.warning("@connections %s %s: %s %s", method, path, exc.code, exc.message)
            return exc.code, exc.message
        return None

    return check


def settings_enforced() -> bool:
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    return bool(ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT)


# -- moto patches ---------------------------------------------------------------------------------
_role_providers: list[Callable[[str], AccessKey | None]] = []
_enforcing = 0
_patched = False
_patch_lock = threading.Lock()


def register_roles(provider: Callable[[str], AccessKey | None]) -> None:
    """Credentials for the roles of one local cloud (``None`` for a role it does not know):
    what Step Functions' service integrations call with, the state machine's role."""
    _role_providers.append(provider)


def forget_roles(provider: Callable[[str], AccessKey | None]) -> None:
    if provider in _role_providers:
        _role_providers.remove(provider)


def _credentials_for(role_arn: str) -> AccessKey | None:
    for provider in list(_role_providers):
        key = provider(role_arn)
        if key is not None:
            return key
    return None


def acquire_enforcement(set_count: Callable[[float], None]) -> None:
    """moto's enforcement is process-wide: on while any local cloud of the process wants it."""
    global _enforcing
    with _patch_lock:
        _enforcing += 1
        if _enforcing == 1:
            set_count(0)


def release_enforcement(set_count: Callable[[float], None]) -> None:
    global _enforcing
    with _patch_lock:
        _enforcing = max(0, _enforcing - 1)
        if _enforcing == 0:
            set_count(float("inf"))


# Operations IAM authorizes as another action (moto names the action after the operation).
IAM_ACTION_OF_OPERATION = {
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}


def patch_moto() -> None:
    global _patched
    with _patch_lock:
        if _patched:
            return
        _patch_action_names()
        _patch_resources()
        _patch_authentication()
        _patch_public_cognito_operations()
        _patch_stepfunctions_credentials()
        _patched = True


def _json_params(response: Any) -> dict[str, Any]:
    raw = getattr(response, "raw_body", None) or b"{}"
    try:
        params = json.loads(raw)
    except ValueError:
        return {}
    return params if isinstance(params, dict) else {}


def _arn(response: Any, service: str, resource: str) -> str:
    return f"arn:aws:{service}:{response.region}:{response.current_account}:{resource}"


def _dynamodb_resource(self: Any) -> str:
    params = _json_params(self)
    table = params.get("TableName")
    if table is None:
        # Batch and transaction calls: the first table named (one table per call here).
        items = params.get("RequestItems") or {}
        table = next(iter(items), None)
        for item in params.get("TransactItems") or []:
            for operation in item.values():
                table = table or operation.get("TableName")
    if table is None:
        return "*"
    if str(table).startswith("arn:"):
        return str(table)
    resource = f"table/{table}"
    if params.get("IndexName"):
        resource += f"/index/{params['IndexName']}"
    return _arn(self, "dynamodb", resource)


def _kinesis_resource(self: Any) -> str:
    params = _json_params(self)
    if params.get("StreamARN"):
        return str(params["StreamARN"])
    name = params.get("StreamName")
    if name is None and params.get("ShardIterator"):
        from moto.kinesis.utils import decompose_shard_iterator

        try:
            name = decompose_shard_iterator(params["ShardIterator"])[0]
        except (ValueError, IndexError):
            name = None
    return _arn(self, "kinesis", f"stream/{name}") if name else "*"


def _sns_resource(self: Any) -> str:
    topic = self._get_param("TopicArn") or self._get_param("TargetArn")
    if topic:
        return str(topic)
    subscription = self._get_param("SubscriptionArn")
    if subscription:
        return str(subscription).rsplit(":", 1)[0]  # Unsubscribe is authorized on the topic
    return "*"


def _stepfunctions_resource(self: Any) -> str:
    params = _json_params(self)
    for key in ("stateMachineArn", "executionArn", "resourceArn"):
        if params.get(key):
            return str(params[key])
    return "*"


def _secretsmanager_resource(self: Any) -> str:
    secret = _json_params(self).get("SecretId")
    if not secret:
        return "*"
    if str(secret).startswith("arn:"):
        return str(secret)
    from moto.secretsmanager.models import secretsmanager_backends

    backend = secretsmanager_backends[self.current_account][self.region]
    try:
        return str(backend.describe_secret(secret).arn)
    except Exception:
        return _arn(self, "secretsmanager", f"secret:{secret}")


def _ecs_resource(self: Any) -> str:
    params = _json_params(self)
    definition = params.get("taskDefinition")
    if definition:
        if str(definition).startswith("arn:"):
            return str(definition)
        return _arn(self, "ecs", f"task-definition/{definition}")
    cluster = str(params.get("cluster") or "default").rsplit("/", 1)[-1]
    tasks = params.get("tasks") or ([params["task"]] if params.get("task") else [])
    if tasks:
        # The long ARN format (AWS's default), whatever moto's setting.
        return _arn(self, "ecs", f"task/{cluster}/{str(tasks[0]).rsplit('/', 1)[-1]}")
    services = params.get("services") or ([params["service"]] if params.get("service") else [])
    if services:
        return _arn(self, "ecs", f"service/{cluster}/{str(services[0]).rsplit('/', 1)[-1]}")
    if params.get("cluster"):
        return _arn(self, "ecs", f"cluster/{cluster}")
    return "*"


def _patch_sqs_resource(cls: Any) -> None:
    """moto finds an SQS call's queue by its URL; CreateQueue and GetQueueUrl name it."""
    original = cls._determine_resource

    def determine(self: Any) -> str:
        name = self._get_param("QueueName")
        if name and self._get_action() in ("CreateQueue", "GetQueueUrl"):
            return _arn(self, "sqs", str(name))
        return str(original(self))

    cls._determine_resource = determine


def _patch_resources() -> None:
    from moto.dynamodb.responses import DynamoHandler
    from moto.ecs.responses import EC2ContainerServiceResponse
    from moto.kinesis.responses import KinesisResponse
    from moto.secretsmanager.responses import SecretsManagerResponse
    from moto.sns.responses import SNSResponse
    from moto.sqs.responses import SQSResponse
    from moto.stepfunctions.responses import StepFunctionResponse

    DynamoHandler._determine_resource = _dynamodb_resource
    KinesisResponse._determine_resource = _kinesis_resource
    SNSResponse._determine_resource = _sns_resource
    StepFunctionResponse._determine_resource = _stepfunctions_resource
    SecretsManagerResponse._determine_resource = _secretsmanager_resource
    EC2ContainerServiceResponse._determine_resource = _ecs_resource
    _patch_sqs_resource(SQSResponse)


def _check_not_expired(account_id: str, headers: Any) -> None:
    token = headers.get("X-Amz-Security-Token")
    if not token:
        return
    from moto.core.exceptions import _RESTError
    from moto.sts.models import sts_backends

    class ExpiredToken(_RESTError):
        code = 403

    for assumed in sts_backends[account_id]["aws"].assumed_roles:
        if assumed.session_token == token:
            if assumed.expiration < datetime.datetime.now(datetime.UTC).replace(tzinfo=None):
                raise ExpiredToken(
                    "ExpiredTokenException", "The security token included in the request is expired"
                )
            return


# Cognito user-pool operations that AWS answers without SigV4 (a password, a session or a token
# is the credential): moto lists only some of them, so a browser's first sign-in with a new
# password (RespondToAuthChallenge) or a sign-out (RevokeToken) would be refused locally.
_PUBLIC_COGNITO_OPERATIONS = (
    "RespondToAuthChallenge",
    "RevokeToken",
    "GlobalSignOut",
    "ChangePassword",
    "ConfirmForgotPassword",
    "AssociateSoftwareToken",
    "VerifySoftwareToken",
    "SetUserMFAPreference",
)


def _patch_public_cognito_operations() -> None:
    from moto.core.authorization import ActionAuthenticatorMixin

    for operation in _PUBLIC_COGNITO_OPERATIONS:
        target = f"AWSCognitoIdentityProviderService.{operation}"
        if target not in ActionAuthenticatorMixin.PUBLIC_OPERATIONS:
            ActionAuthenticatorMixin.PUBLIC_OPERATIONS.append(target)


def _patch_action_names() -> None:
    from moto.iam.access_control import IAMRequestBase

    original = IAMRequestBase.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self._action = IAM_ACTION_OF_OPERATION.get(self._action, self._action)

    IAMRequestBase.__init__ = init


def _patch_authentication() -> None:
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import S3IAMRequest
    from moto.s3.exceptions import S3AccessDeniedError

    original = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def authenticate(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
            original(self, iam_request_cls, resource)
            return
        if "Authorization" in self.headers:
            _check_not_expired(self.current_account, self.headers)
            original(self, iam_request_cls, resource)
            return
        if self.method == "OPTIONS":
            return  # CORS preflight: answered from the bucket's CORS rules, unauthenticated
        if iam_request_cls is not S3IAMRequest:
            original(self, iam_request_cls, resource)  # moto's own error for an unsigned call
            return
        _authorize_presigned_s3(self, resource)

    def _authorize_presigned_s3(self: Any, resource: str) -> None:
        fields = {k.lower(): v for k, v in self.querystring.items()}
        credential = (fields.get("x-amz-credential") or [None])[0]
        if not credential:
            raise S3AccessDeniedError()  # anonymous: no bucket here allows the public in
        token = (fields.get("x-amz-security-token") or [None])[0]
        if fields.get("x-amz-date") and fields.get("x-amz-expires"):
            signed = datetime.datetime.strptime(fields["x-amz-date"][0], "%Y%m%dT%H%M%SZ")
            expires = signed + datetime.timedelta(seconds=int(fields["x-amz-expires"][0]))
            if expires < datetime.datetime.now(datetime.UTC).replace(tzinfo=None):
                raise S3AccessDeniedError()
        headers = dict(self.headers)
        headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host, Signature=presigned"
        )
        if token:
            headers["X-Amz-Security-Token"] = token
        if self.method == "POST" and fields.get("key") and "/" not in resource.split(":::")[-1]:
            resource = f"{resource}/{fields['key'][0]}"  # a POST policy's object
        parsed = urlparse(self.uri)
        request = S3IAMRequest(
            account_id=self.current_account,
            method=self.method,
            path=parsed.path,
            data=self.data,
            body=self.raw_body,
            headers=headers,
            action=self._get_action(),
        )
        _check_not_expired(self.current_account, headers)
        request.check_action_permitted(resource)

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate


_SFN_SERVICES = "moto.stepfunctions.parser.asl.component.state.exec.state_task.service"


def _patch_stepfunctions_credentials() -> None:
    import importlib
    import sys

    import boto3
    from botocore.config import Config
    from moto.settings import moto_server_port
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
    from moto.stepfunctions.parser.asl.utils import boto_client

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        role_arn = getattr(state_credentials, "role_arn", None)
        key = _credentials_for(role_arn) if role_arn else None
        return boto3.client(
            service_name=service,
            region_name=region,
            endpoint_url=f"http://localhost:{moto_server_port()}",
            aws_access_key_id=key.access_key_id if key else "ak",
            aws_secret_access_key=key.secret_access_key if key else "sk",
            aws_session_token=key.session_token if key else None,
            config=Config(
                parameter_validation=False,
                retries={"max_attempts": 0, "total_max_attempts": 1},
                connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            ),
        )

    boto_client.boto_client_for = boto_client_for
    # The integrations import the function by name: replace it where it was imported.
    importlib.import_module(f"{_SFN_SERVICES}.state_task_service_ecs")
    importlib.import_module(f"{_SFN_SERVICES}.state_task_service_sqs")

    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and hasattr(module, "boto_client_for"):
            module.boto_client_for = boto_client_for
