"""The local cloud: one object that brings the whole template up, and takes it down."""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import secrets
import shlex
import threading
import time
import tomllib
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from localcloud import gateway as gw
from localcloud import iam, moto_patches
from localcloud.alb import LoadBalancer, Rule
from localcloud.containers import ContainerCatalog, ServiceManager, TaskLauncher
from localcloud.credentials import CredentialsServer, FunctionCredentials
from localcloud.errors import LocalCloudError, TemplateError, UnsupportedError
from localcloud.event_sources import EVENT_SOURCES, SamEvent, Wiring, refusal
from localcloud.event_sources.s3 import put_bucket_notifications
from localcloud.iam import LocalIam, RoleSessions
from localcloud.intrinsics import Resolver
from localcloud.moto_server import MotoServer, free_port
from localcloud.provision import Provisioner
from localcloud.provisioned import LoadBalancer as ProvisionedBalancer
from localcloud.provisioned import Part, Provisioned, V2Api
from localcloud.runtime import FunctionError, FunctionRuntime, FunctionSpec
from localcloud.template import Template, load_template
from localcloud.ttl_sweeper import TtlSweeper
from tools.env_file import env_key, write_env_file

log = logging.getLogger("localcloud")

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "localcloud", "AWS_SECRET_ACCESS_KEY": "localcloud"}
#: The web console's origin (CORS), when the template asks for it and no override names one.
CONSOLE_ORIGIN_PARAMETER = "ConsoleOrigin"
_APP_CLIENTS_MAX_AGE_SECONDS = 2.0


@dataclass
class LocalCloud:
    template_path: Path
    state_dir: Path
    stack_name: str = "pipeline-local"
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    # False for one-shot invocations: resources exist, but no poller, service or API runs.
    drive_events: bool = True
    function_logs_to_files: bool = True
    # IAM enforced: each function, state machine and task calls AWS as its own role, and moto
    # evaluates their policies. False: everything runs as the administrator, nothing is checked.
    iam: bool = True
    credential_seconds: int = 3600

    def __post_init__(self) -> None:
        self.template: Template = load_template(self.template_path)
        self.root = self.template.root
        self.moto = MotoServer(self.host)
        self.runtime = FunctionRuntime(
            self.state_dir / "logs" / "functions" if self.function_logs_to_files else None
        )
        self.gateway = gw.Gateway(
            self._gateway_invoke,
            host=self.host,
            region=REGION,
            account_id=ACCOUNT_ID,
            # Tokens of the template's user pools are signed by moto: its server has their JWKS.
            token_verifier=gw.TokenVerifier(
                gw.JwksCache(gw.jwks_url_resolver(self.moto.url)),
                app_clients=self._app_clients,
            ),
            management_authorizer=iam.management_authorizer(ACCOUNT_ID),
        )
        self._app_client_cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._app_client_lock = threading.Lock()  # the gateway verifies tokens on many threads
        self._cognito: Any = None
        self.pollers: list[Any] = []
        self.load_balancers: list[LoadBalancer] = []
        self._ports: dict[tuple[str, str], int] = {}
        self.api_keys: dict[str, str] = {}
        self.outputs: dict[str, str] = {}
        self.provisioned: Provisioned | None = None
        self.tasks: TaskLauncher | None = None
        self.services: ServiceManager | None = None
        self.started_in: float | None = None
        self.credentials: dict[str, str] = dict(CREDENTIALS)
        self.local_iam = LocalIam(account_id=ACCOUNT_ID, region=REGION, stack_name=self.stack_name)
        self.role_sessions = RoleSessions(
            self.local_iam.assume_role, duration=self.credential_seconds
        )
        self.credentials_server = CredentialsServer(self.role_sessions, host=self.host)
        self._enforcing = False

    # -- environment ----------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return self.moto.url

    def aws_env(self) -> dict[str, str]:
        """What every function and container process gets to reach the local AWS (and, with
        IAM off, the administrator's keys; with IAM on each gets its role's)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            **({} if self.iam else self.credentials),
            # X-Ray has no local daemon; Powertools' tracer becomes a no-op.
            "POWERTOOLS_TRACE_DISABLED": "true",
        }

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=self.credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.credentials["AWS_SECRET_ACCESS_KEY"],
            config=Config(retries={"mode": "standard", "max_attempts": 3}),
        )

    def _port(self, kind: str, logical_id: str) -> int:
        key = (kind, logical_id)
        if key not in self._ports:
            self._ports[key] = free_port(self.host)
        return self._ports[key]

    def _local_url(self, kind: str, logical_id: str) -> str:
        port = self._port(kind, logical_id)
        if kind == "websocket":
            return f"ws://{self.host}:{port}"
        if kind == "http":
            return f"http://{self.host}:{port}"  # an HTTP API's ApiEndpoint
        return f"{self.host}:{port}"  # an ALB's DNSName: used as http://${DNSName}/...

    @property
    def console_origin(self) -> str:
        """``http://127.0.0.1:PORT``: where the local cloud serves the web console."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host  # noqa: S104
        return f"http://{host}:{self._port('static', 'WebConsole')}"

    def _app_clients(self, pool_id: str) -> frozenset[str]:
        """A user pool's app client ids (for the Cognito authorizer's ``aud`` check), cached
        briefly: a client created at run time is seen within seconds."""
        with self._app_client_lock:
            cached = self._app_client_cache.get(pool_id)
            if cached is not None and time.monotonic() - cached[0] < _APP_CLIENTS_MAX_AGE_SECONDS:
                return cached[1]
            if self._cognito is None:
                self._cognito = self.client("cognito-idp")
            pages = self._cognito.get_paginator("list_user_pool_clients").paginate(
                UserPoolId=pool_id, MaxResults=60
            )
            ids = frozenset(c["ClientId"] for page in pages for c in page["UserPoolClients"])
            self._app_client_cache[pool_id] = (time.monotonic(), ids)
            return ids

    # -- lifecycle ------------------------------------------------------------------------------
    def up(self) -> None:
        started = time.monotonic()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.moto.start()
        self._start_iam()
        parameters = self._parameters()
        resolver = Resolver(
            region=REGION,
            account_id=ACCOUNT_ID,
            stack_name=self.stack_name,
            parameters=parameters,
            conditions=self.template.conditions,
            mappings=self.template.mappings,
        )
        self.resolver = resolver
        provisioner = Provisioner(
            template=self.template,
            resolver=resolver,
            clients=self.client,
            stack_name=self.stack_name,
            region=REGION,
            account_id=ACCOUNT_ID,
            local_urls=self._local_url,
        )
        self._check_events()
        self.provisioned = provisioner.provision()
        self.local_iam.create_roles(self.template, resolver, self.client)
        self._register_functions()
        self._wire_event_sources()
        self._wire_apis()
        self._wire_containers()
        if self.drive_events:
            self.outputs = self._outputs()
            self._wire_console()
            self.outputs = self._outputs()
            self.gateway.start()
            for poller in self.pollers:
                poller.start()
            for balancer in self.load_balancers:
                balancer.start()
            if self.services is not None:
                self.services.start()
        self.started_in = time.monotonic() - started
        log.info("local cloud up in %.1f s", self.started_in)

    def wait_until_healthy(self, timeout: float = 90.0) -> None:
        """Wait until every load-balanced ECS service answers its target group's health check
        (the processes start after ``up`` returns, and some load models first)."""
        assert self.services is not None
        assert self.provisioned is not None
        deadline = time.monotonic() + timeout
        for group in self.provisioned.target_groups.values():
            name, arn, path = group.logical_id, group.arn, group.health_check_path
            if not any(arn in info["target_groups"] for info in self.services.services.values()):
                continue  # no service registers with this target group
            while not self._target_healthy(arn, path):
                if time.monotonic() > deadline:
                    raise LocalCloudError(
                        f"target group {name}: no healthy target on {path} after {timeout:.0f} s "
                        f"(logs: {self.state_dir / 'logs' / 'containers'})"
                    )
                time.sleep(0.25)

    def _target_healthy(self, target_group_arn: str, path: str) -> bool:
        assert self.services is not None
        for endpoint in self.services.endpoints(target_group_arn):
            try:
                with urllib.request.urlopen(f"http://{endpoint}{path}", timeout=2) as response:
                    if response.status == 200:
                        return True
            except (OSError, ValueError):
                continue
        return False

    def down(self) -> None:
        for poller in self.pollers:
            poller.stop()
        if self.services is not None:
            self.services.stop()
        if self.tasks is not None:
            self.tasks.stop_all()
            moto_patches.remove_listeners(self.tasks.on_run_task, self.tasks.on_stop_task)
        self.gateway.stop()
        for balancer in self.load_balancers:
            balancer.stop()
        self.runtime.close()
        self.credentials_server.stop()
        iam.forget_roles(self._role_credentials)
        if self._enforcing:
            iam.release_enforcement(self.moto.set_initial_no_auth_action_count)
            self._enforcing = False
        self.moto.stop()

    def __enter__(self) -> LocalCloud:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    def _start_iam(self) -> None:
        """The administrator first (moto's backend, as an account's root would), then moto's
        enforcement: from here on every call is signed by a user or role and checked."""
        iam.patch_moto()
        self.credentials = self.local_iam.create_admin().env()
        iam.register_roles(self._role_credentials)
        if self.iam:
            iam.acquire_enforcement(self.moto.set_initial_no_auth_action_count)
            self._enforcing = True
            log.info("IAM enforced: functions, state machines and tasks run as their roles")
        else:
            banner = "!" * 78
            log.warning(
                "\n%s\n!! --no-iam: IAM IS NOT ENFORCED. Every function and task runs as the "
                "administrator;\n!! a missing permission will only show on AWS.\n%s",
                banner,
                banner,
            )

    def _role_credentials(self, role_arn: str) -> Any:
        if role_arn not in self.local_iam.role_arns.values():
            return None
        return self.role_sessions.get(role_arn, "localcloud")

    # -- template -------------------------------------------------------------------------------
    def _parameters(self) -> dict[str, str]:
        """Template defaults, then samconfig.toml's ``local`` environment, then explicit ones.

        ``ConsoleOrigin`` (the web console's CORS origin) is the local console's own origin
        unless ``--parameter-overrides`` names one: the console is served here, on a port chosen
        at start-up, so no default or samconfig value could name it.
        """
        overrides = {
            **samconfig_overrides(self.root / "samconfig.toml"),
            **self.parameter_overrides,
        }
        if (
            CONSOLE_ORIGIN_PARAMETER in self.template.parameters
            and CONSOLE_ORIGIN_PARAMETER not in self.parameter_overrides
        ):
            overrides[CONSOLE_ORIGIN_PARAMETER] = self.console_origin
        values: dict[str, str] = {}
        for name, spec in self.template.parameters.items():
            if name in overrides:
                values[name] = overrides[name]
            elif "Default" in spec:
                values[name] = str(spec["Default"])
            else:
                raise TemplateError(f"parameter {name} has no Default: pass it as an override")
        return values

    def _check_events(self) -> None:
        problems = []
        for function in self.template.of_type("AWS::Serverless::Function"):
            for name, event in (function.properties.get("Events") or {}).items():
                problem = refusal(event)
                if problem is not None:
                    problems.append(f"{function.logical_id}.{name} ({problem})")
        if problems:
            raise UnsupportedError(
                "event sources the local cloud cannot drive: " + ", ".join(problems)
            )

    # -- functions ------------------------------------------------------------------------------
    def _register_functions(self) -> None:
        assert self.provisioned is not None
        for logical_id, function in self.provisioned.functions.items():
            props = self.resolver.resolve(function.resource.properties)
            code_dir = self.root / str(props["CodeUri"])
            if not code_dir.is_dir():
                raise TemplateError(f"{logical_id}: CodeUri {code_dir} is not a folder")
            layers = []
            for layer_ref in props.get("Layers", []):
                matches = [
                    path
                    for layer_id, path in self.provisioned.layers.items()
                    if self.resolver.refs.get(layer_id) == layer_ref
                ]
                if not matches:
                    raise UnsupportedError(
                        f"{logical_id}: layer {layer_ref} is not in the template"
                    )
                layers.extend(matches)
            variables = {
                k: str(v) for k, v in (props.get("Environment") or {}).get("Variables", {}).items()
            }
            name = function.name
            credentials = None
            if self.iam:
                credentials = FunctionCredentials(
                    self.role_sessions, self.local_iam.role_arns[logical_id], name
                )
            environment = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "LANG": "C.UTF-8",
                "TZ": "UTC",
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(props.get("MemorySize", 128)),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{props.get('Runtime', 'python3.13')}",
                **self.aws_env(),
                **variables,
            }
            self.runtime.register(
                FunctionSpec(
                    logical_id=logical_id,
                    function_name=name,
                    handler=props["Handler"],
                    code_dir=code_dir,
                    layer_dirs=tuple(layers),
                    environment=environment,
                    timeout_seconds=float(props.get("Timeout", 3)),
                    memory_mb=int(props.get("MemorySize", 128)),
                    max_concurrency=int(props.get("ReservedConcurrentExecutions") or 4),
                    arn=function.arn,
                    event_invoke=props.get("EventInvokeConfig") or {},
                    credentials=credentials,
                )
            )

    def invoke(self, logical_id: str, event: Any) -> Any:
        return self.runtime.invoke(logical_id, event)

    def _gateway_invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        try:
            return self.runtime.invoke(logical_id, event)
        except FunctionError as exc:
            raise gw.FunctionError(exc.error_type, exc.error_message) from exc

    # -- event sources --------------------------------------------------------------------------
    def _wire_event_sources(self) -> None:
        """A poller per function event, each made by its event type's module."""
        assert self.provisioned is not None
        # DynamoDB's TTL process: expired items go (and their streams see the REMOVE) in seconds.
        self.ttl_sweeper = TtlSweeper(
            dynamodb=self.client("dynamodb"),
            tables=[table.name for table in self.provisioned.tables.values()],
        )
        self.pollers.append(self.ttl_sweeper)
        wiring = Wiring(
            clients=self.client,
            runtime=self.runtime,
            provisioned=self.provisioned,
            resolver=self.resolver,
            region=REGION,
            account_id=ACCOUNT_ID,
            stack_name=self.stack_name,
            ttl_deletions=self.ttl_sweeper.claim,
        )
        for function in self.provisioned.functions.values():
            for event_name, event in function.events.items():
                props = self.resolver.resolve(event.get("Properties") or {})
                poller = EVENT_SOURCES[event["Type"]].wire(
                    wiring, SamEvent(function, event_name, props)
                )
                if poller is not None:
                    self.pollers.append(poller)
        put_bucket_notifications(wiring)

    # -- APIs -----------------------------------------------------------------------------------
    def _wire_apis(self) -> None:
        assert self.provisioned is not None
        routes: dict[str, list[gw.RestRoute]] = {}
        for logical_id, function in self.provisioned.functions.items():
            for event in function.events.values():
                if event["Type"] != "Api":
                    continue
                props = event.get("Properties") or {}
                api_ref = props.get("RestApiId")
                api_id = api_ref.get("Ref") if isinstance(api_ref, dict) else None
                if api_id not in self.provisioned.rest_apis:
                    raise UnsupportedError(
                        f"{logical_id}: Api events must name an AWS::Serverless::Api (RestApiId)"
                    )
                api_auth = self.provisioned.rest_apis[api_id].props.get("Auth") or {}
                event_auth = props.get("Auth") or {}
                key_required = bool(
                    event_auth.get("ApiKeyRequired", api_auth.get("ApiKeyRequired", False))
                )
                authorizer_name = event_auth.get("Authorizer", api_auth.get("DefaultAuthorizer"))
                routes.setdefault(api_id, []).append(
                    gw.RestRoute(
                        method=str(props["Method"]).upper(),
                        path=props["Path"],
                        function=logical_id,
                        api_key_required=key_required,
                        authorizer=_rest_authorizer(
                            f"{logical_id} ({api_id})", api_auth, authorizer_name
                        ),
                    )
                )
        for api_logical_id, api in self.provisioned.rest_apis.items():
            props = api.props
            api_routes = routes.get(api_logical_id, [])
            keys = []
            if any(route.api_key_required for route in api_routes):
                key = secrets.token_urlsafe(30)
                self.api_keys[api_logical_id] = key
                keys.append(key)
            cors = props.get("Cors")
            allow_origin = cors.get("AllowOrigin") if isinstance(cors, dict) else cors
            # SAM quotes CORS values for API Gateway ("'*'"); the header value is inside.
            origin = str(allow_origin).strip("'") if allow_origin else None
            auth = props.get("Auth") or {}
            default = auth.get("DefaultAuthorizer")
            preflight_authorizer = (
                _rest_authorizer(api_logical_id, auth, default)
                if default and auth.get("AddDefaultAuthorizerToCorsPreflight", True)
                else None
            )
            self.gateway.add_rest_api(
                api.id,
                stage=props.get("StageName", "Prod"),
                routes=api_routes,
                api_keys=keys,
                cors_allow_origin=origin,
                port=self._port("rest", api_logical_id),
                binary_media_types=props.get("BinaryMediaTypes", []),
                preflight_authorizer=preflight_authorizer,
                gateway_responses=_gateway_responses(props.get("GatewayResponses") or {}),
            )
        for websocket_api in self.provisioned.websocket_apis.values():
            self._wire_websocket(websocket_api)
        for http_api in self.provisioned.http_apis.values():
            self._wire_http_api(http_api)

    def _wire_http_api(self, api: V2Api) -> None:
        """An HTTP API: its routes, JWT authorizers, HTTP_PROXY integrations and CORS."""
        routes = []
        for route in api.routes:
            props = route.props
            integration = self._http_integration(_route_integration(api, route))
            kind = props.get("AuthorizationType", "NONE")
            authorizer = None
            if kind == "JWT":
                authorizer = self._jwt_authorizer(api, str(props.get("AuthorizerId")))
            elif kind != "NONE":
                raise UnsupportedError(
                    f"{route.logical_id}: AuthorizationType {kind} (local HTTP APIs: JWT, NONE)"
                )
            routes.append(gw.HttpRoute(props["RouteKey"], integration, authorizer))
        cors = api.props.get("CorsConfiguration")
        self.gateway.add_http_api(
            api.id,
            stage=api.stages[0].props["StageName"] if api.stages else "$default",
            routes=routes,
            cors=_http_cors(cors) if cors else None,
            port=self._port("http", api.logical_id),
        )

    def _http_integration(self, integration: Part) -> gw.HttpProxyIntegration:
        props = integration.props
        if props.get("IntegrationType") != "HTTP_PROXY" or props.get("ConnectionType") != (
            "VPC_LINK"
        ):
            raise UnsupportedError(
                f"{integration.logical_id}: local HTTP APIs integrate HTTP_PROXY through a "
                "VPC_LINK to a load balancer listener"
            )
        assert self.provisioned is not None
        listener_arn = props.get("IntegrationUri")
        found = self.provisioned.listener(str(listener_arn))
        if found is None:
            raise UnsupportedError(
                f"{integration.logical_id}: IntegrationUri {listener_arn!r} is no listener of the "
                "template"
            )
        balancer = found[0].logical_id
        timeout_ms = props.get("TimeoutInMillis")
        return gw.HttpProxyIntegration(
            f"http://{self.host}:{self._port('alb', balancer)}",
            props.get("IntegrationMethod", "ANY"),
            int(timeout_ms) / 1000 if timeout_ms else None,
            removed_headers=_removed_headers(integration.logical_id, props),
        )

    def _jwt_authorizer(self, api: V2Api, authorizer_id: str) -> gw.JwtAuthorizer:
        if authorizer_id not in api.authorizers:
            raise TemplateError(
                f"JWT route: AuthorizerId {authorizer_id} is no authorizer of its API"
            )
        authorizer = api.authorizers[authorizer_id]
        props = authorizer.props
        if props.get("AuthorizerType") != "JWT":
            raise UnsupportedError(f"{authorizer.logical_id}: local HTTP APIs run JWT authorizers")
        config = props.get("JwtConfiguration") or {}
        sources = props.get("IdentitySource") or ["$request.header.Authorization"]
        if len(sources) != 1:
            raise UnsupportedError(
                f"{authorizer.logical_id}: a JWT authorizer has one identity source"
            )
        return gw.JwtAuthorizer(
            name=authorizer.logical_id,
            issuer=str(config["Issuer"]),
            audiences=tuple(str(a) for a in config.get("Audience", [])),
            identity_source=str(sources[0]),
        )

    def _function_of_uri(self, uri: str) -> str:
        assert self.provisioned is not None
        for function in self.provisioned.functions.values():
            if f":function:{function.name}/" in uri or uri.endswith(f":function:{function.name}"):
                return function.logical_id
        raise TemplateError(f"integration {uri} targets no function of the template")

    def _wire_websocket(self, api: V2Api) -> None:
        routes = []
        authorizer = None
        for route in api.routes:
            uri = _route_integration(api, route).props["IntegrationUri"]
            routes.append(
                gw.WebSocketRoute(
                    route_key=route.props["RouteKey"], function=self._function_of_uri(uri)
                )
            )
            if route.props.get("AuthorizerId"):
                auth_props = api.authorizers[route.props["AuthorizerId"]].props
                authorizer = gw.WebSocketAuthorizer(
                    function=self._function_of_uri(auth_props["AuthorizerUri"]),
                    identity_sources=tuple(auth_props.get("IdentitySource", [])),
                )
        self.gateway.add_websocket_api(
            api.id,
            stage=api.stages[0].props["StageName"] if api.stages else "prod",
            routes=routes,
            authorizer=authorizer,
            route_selection_expression=api.props.get(
                "RouteSelectionExpression", "$request.body.action"
            ),
            port=self._port("websocket", api.logical_id),
        )

    # -- containers -----------------------------------------------------------------------------
    def _wire_containers(self) -> None:
        assert self.provisioned is not None
        common = [path for path in self.provisioned.layers.values()]
        catalog = ContainerCatalog(self.root, common, self.aws_env())
        for task in self.provisioned.task_definitions.values():
            role_env = None
            if self.iam and task.task_role_arn:
                role_env = self.credentials_server.environment(str(task.task_role_arn))
            catalog.register(task.arn, task.container_definitions, role_env)
        log_dir = self.state_dir / "logs" / "containers"
        self.tasks = TaskLauncher(catalog, log_dir)
        moto_patches.on_run_task(self.tasks.on_run_task)
        moto_patches.on_stop_task(self.tasks.on_stop_task)
        self.services = ServiceManager(catalog, self.client("ecs"), log_dir)
        for service in self.provisioned.services.values():
            self.services.add(service.cluster, service.arn, service.target_groups)
        for balancer in self.provisioned.load_balancers.values():
            self._wire_load_balancer(balancer)

    def _wire_load_balancer(self, balancer: ProvisionedBalancer) -> None:
        assert self.services is not None
        if len(balancer.listeners) > 1:
            raise UnsupportedError(f"{balancer.logical_id}: the local ALB serves one listener")
        for listener in balancer.listeners:
            default = _forward_target(listener.props.get("DefaultActions", []))
            rules = []
            for rule in listener.rules:
                rule_props = rule.props
                patterns: list[str] = []
                for condition in rule_props.get("Conditions", []):
                    if condition.get("Field") != "path-pattern":
                        raise UnsupportedError(f"{rule.logical_id}: only path-pattern conditions")
                    config = condition.get("PathPatternConfig", {})
                    patterns.extend(config.get("Values", condition.get("Values", [])))
                target = _forward_target(rule_props.get("Actions", []))
                if target:
                    rules.append(Rule(int(rule_props["Priority"]), tuple(patterns), target))
            self.load_balancers.append(
                LoadBalancer(
                    port=self._port("alb", balancer.logical_id),
                    default_target_group=default,
                    rules=rules,
                    endpoints=self.services.endpoints,
                    host=self.host,
                )
            )

    def _wire_console(self) -> None:
        """Serve the built web console, with the stack's endpoints as its ``config.json``."""
        site = self.root / "web" / "dist"
        if (site / "index.html").is_file():
            self.gateway.add_static_site(
                site,
                port=self._port("static", "WebConsole"),
                config=_console_config(
                    self.root / "web" / "config_from_env.py",
                    {env_key(k): v for k, v in self.outputs.items()},
                ),
            )

    # -- outputs --------------------------------------------------------------------------------
    def _outputs(self) -> dict[str, str]:
        assert self.provisioned is not None
        # execute-api host -> local base URL; the path after the host is kept (a REST API's
        # stage is part of it and of the local URL alike; HTTP APIs' $default stage has none).
        api_urls = {
            api.id: f"http://{self.host}:{self._port('rest', logical_id)}"
            for logical_id, api in self.provisioned.rest_apis.items()
        }
        api_urls.update(
            {
                api.id: f"http://{self.host}:{self._port('http', logical_id)}"
                for logical_id, api in self.provisioned.http_apis.items()
            }
        )
        outputs: dict[str, str] = {}
        for name, output in self.template.outputs.items():
            value = str(self.resolver.resolve(output["Value"]))
            # An API's public URL becomes its local port (the same rule for every output).
            match = re.match(r"https://(\w+)\.execute-api\.[^/]+(/.*)?$", value)
            if match and match.group(1) in api_urls:
                value = api_urls[match.group(1)] + (match.group(2) or "")
            outputs[name] = value
        for api_logical_id, key in self.api_keys.items():
            outputs[f"{api_logical_id}Key"] = key
        outputs["AwsEndpointUrl"] = self.endpoint
        outputs["AwsRegion"] = REGION
        if self.gateway.has_static_site:
            outputs["WebConsoleUrl"] = f"http://{self.host}:{self._ports[('static', 'WebConsole')]}"
        return outputs

    def write_env_file(self, path: Path) -> None:
        """The same keys ``make outputs`` writes for a deployed stack, plus the administrator's
        keys (tests and CLIs act as the operator who deployed the stack), owner-readable only."""
        values = {env_key(k): v for k, v in self.outputs.items()}
        values["AWS_DEFAULT_REGION"] = values["AWS_REGION"]  # what boto3 reads for its region
        values["AWS_ACCESS_KEY_ID"] = self.credentials["AWS_ACCESS_KEY_ID"]
        values["AWS_SECRET_ACCESS_KEY"] = self.credentials["AWS_SECRET_ACCESS_KEY"]
        write_env_file(
            path,
            values,
            "Written by the local cloud; `make outputs` writes these keys for a deployed stack.",
        )


def samconfig_overrides(path: Path, environment: str = "local") -> dict[str, str]:
    """``parameter_overrides`` of a samconfig.toml environment (``Name=Value`` pairs)."""
    if not path.is_file():
        return {}
    with path.open("rb") as file:
        config = tomllib.load(file)
    section = config.get(environment, {}).get("deploy", {}).get("parameters", {})
    raw = section.get("parameter_overrides", [])
    pairs = shlex.split(raw) if isinstance(raw, str) else list(raw)
    overrides = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise TemplateError(
                f"{path}: [{environment}] parameter_overrides: {pair!r} is not Name=Value"
            )
        overrides[name] = value
    return overrides


def _rest_authorizer(
    where: str, api_auth: dict[str, Any], name: str | None
) -> gw.CognitoAuthorizer | None:
    """The SAM authorizer ``name`` of an API's ``Auth`` (``None`` or ``NONE``: an open route)."""
    if name is None or name == "NONE":
        return None
    config = (api_auth.get("Authorizers") or {}).get(name)
    if config is None:
        raise TemplateError(f"{where}: authorizer {name!r} is not in the API's Auth.Authorizers")
    if "UserPoolArn" not in config:
        raise UnsupportedError(
            f"{where}: authorizer {name}: only Cognito (UserPoolArn) runs locally"
        )
    arns = config["UserPoolArn"]
    header = (config.get("Identity") or {}).get("Header", "Authorization")
    return gw.CognitoAuthorizer(
        name=name,
        user_pool_arns=tuple(arns if isinstance(arns, list) else [arns]),
        identity_header=str(header),
    )


def _gateway_responses(config: dict[str, Any]) -> dict[str, gw.GatewayResponse]:
    """SAM ``GatewayResponses``: ``{TYPE: {StatusCode, ResponseParameters: {Headers}}}``; SAM
    quotes header values for API Gateway (``"'https://console'"``)."""
    responses = {}
    for response_type, entry in config.items():
        parameters = (entry or {}).get("ResponseParameters") or {}
        headers = {
            str(name): str(value).strip("'")
            for name, value in (parameters.get("Headers") or {}).items()
        }
        status = entry.get("StatusCode") if entry else None
        responses[str(response_type)] = gw.GatewayResponse(
            status_code=int(status) if status is not None else None, headers=headers
        )
    return responses


def _http_cors(config: dict[str, Any]) -> gw.HttpCors:
    return gw.HttpCors(
        allow_origins=tuple(str(v) for v in config.get("AllowOrigins", [])),
        allow_headers=tuple(str(v) for v in config.get("AllowHeaders", [])),
        allow_methods=tuple(str(v) for v in config.get("AllowMethods", [])),
        expose_headers=tuple(str(v) for v in config.get("ExposeHeaders", [])),
        max_age=int(config["MaxAge"]) if "MaxAge" in config else None,
        allow_credentials=str(config.get("AllowCredentials", False)).lower() == "true",
    )


def _route_integration(api: V2Api, route: Part) -> Part:
    """The integration a route's ``Target`` (``integrations/<integration id>``) names."""
    target = str(route.props.get("Target", ""))
    integration_id = target.removeprefix("integrations/")
    if not target.startswith("integrations/") or integration_id not in api.integrations:
        raise UnsupportedError(f"{route.logical_id}: Target must be integrations/${{Integration}}")
    return api.integrations[integration_id]


def _forward_target(actions: list[dict[str, Any]]) -> str | None:
    for action in actions:
        if action.get("Type") == "forward":
            return (
                action.get("TargetGroupArn")
                or action["ForwardConfig"]["TargetGroups"][0]["TargetGroupArn"]
            )
    return None


def _removed_headers(logical_id: str, props: dict[str, Any]) -> tuple[str, ...]:
    """An HTTP integration's ``remove:header.NAME`` parameter mappings (the only kind the local
    gateway applies; any other mapping stops ``up`` rather than being silently skipped)."""
    removed = []
    for key in props.get("RequestParameters") or {}:
        kind, _, name = str(key).partition(":header.")
        if kind != "remove" or not name:
            raise UnsupportedError(
                f"{logical_id}: RequestParameters {key!r}: only remove:header.NAME is emulated"
            )
        removed.append(name.lower())
    return tuple(removed)


def _console_config(rule: Path, outputs: dict[str, str]) -> dict[str, str]:
    """The console's ``config.json``: the project's own rule (``web/config_from_env.py``) picks
    the keys the page may see, so the local page gets exactly what a deployed one gets (no
    bucket, queue or table names). Without the rule file every output is served."""
    if not rule.is_file():
        return outputs
    spec = importlib.util.spec_from_file_location("console_config_rule", rule)
    if spec is None or spec.loader is None:
        raise TemplateError(f"{rule}: cannot be loaded as the console's config rule")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config: dict[str, str] = module.console_config(outputs)
    return config


__all__ = ["LocalCloud", "env_key"]
