"""Creating every resource of the template in moto (or in the local cloud's own emulators).

Resources are created in dependency order (``Ref``/``GetAtt``/``Sub``/``DependsOn``), each
registering the ``Ref`` value and attributes CloudFormation would give it, so later properties
resolve to real local names, URLs and ARNs. Types that have no effect on one machine (routes, NAT,
alarms, resource policies...) are listed in ``NO_LOCAL_EFFECT`` with the reason; any other type is
refused at start-up, by name.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Callable
from graphlib import CycleError, TopologicalSorter
from typing import Any

from localcloud import provisioned as records
from localcloud.boto_shapes import to_boto
from localcloud.errors import TemplateError, UnsupportedError
from localcloud.intrinsics import Resolver, references
from localcloud.provisioned import Provisioned
from localcloud.template import Resource, Template

log = logging.getLogger("localcloud.provision")

NO_LOCAL_EFFECT: dict[str, str] = {
    "AWS::EC2::InternetGateway": "networking: every local process shares the loopback",
    "AWS::EC2::VPCGatewayAttachment": "networking",
    "AWS::EC2::RouteTable": "networking",
    "AWS::EC2::Route": "networking",
    "AWS::EC2::SubnetRouteTableAssociation": "networking",
    "AWS::EC2::EIP": "networking",
    "AWS::EC2::NatGateway": "networking",
    "AWS::EC2::VPCEndpoint": "networking",
    "AWS::EC2::SecurityGroupIngress": "networking: not enforced locally",
    "AWS::EC2::SecurityGroupEgress": "networking: not enforced locally",
    "AWS::IAM::Policy": "not attached locally: a permission granted only this way is denied",
    "AWS::IAM::ManagedPolicy": "not attached locally: a permission granted only this way is denied",
    "AWS::Lambda::Permission": "resource policy: the local gateway and pollers invoke directly",
    "AWS::S3::BucketPolicy": "bucket policies are not enforced locally",
    "AWS::SQS::QueuePolicy": "queue policies are not enforced locally",
    "AWS::SNS::TopicPolicy": "topic policies are not enforced locally",
    "AWS::ApplicationAutoScaling::ScalableTarget": "desired counts stay as declared locally",
    "AWS::ApplicationAutoScaling::ScalingPolicy": "desired counts stay as declared locally",
    "AWS::CloudWatch::Alarm": "no metrics are evaluated locally",
    "AWS::CloudWatch::CompositeAlarm": "no metrics are evaluated locally",
    "AWS::CloudWatch::Dashboard": "no metrics are evaluated locally",
    "AWS::ApiGatewayV2::Deployment": "the local gateway serves the routes as declared",
    "AWS::ApiGatewayV2::VpcLink": "the local gateway reaches the local load balancer directly",
    "AWS::ApiGateway::UsagePlan": "the local gateway checks API keys, not quotas",
    "AWS::ApiGateway::ApiKey": "the local gateway generates its own key",
    "AWS::ApiGateway::UsagePlanKey": "the local gateway checks API keys, not quotas",
    "AWS::ApiGateway::Account": "the account's access-log role; nothing is logged locally",
    "AWS::Lambda::EventInvokeConfig": "read with its function",
    "AWS::SNS::Subscription": "created after topics and queues",
}


def _aws_name(stack: str, logical_id: str, *, limit: int = 80, fifo: bool = False) -> str:
    suffix = ".fifo" if fifo else ""
    name = f"{stack}-{logical_id}"[: limit - len(suffix)]
    return name + suffix


def _bucket_name(stack: str, logical_id: str) -> str:
    name = re.sub(r"[^a-z0-9-]", "-", f"{stack}-{logical_id}".lower())
    return name[:63].strip("-")


class Provisioner:
    def __init__(
        self,
        *,
        template: Template,
        resolver: Resolver,
        clients: Callable[[str], Any],
        stack_name: str,
        region: str,
        account_id: str,
        local_urls: Callable[[str, str], str],
    ) -> None:
        self.template = template
        self.resolver = resolver
        self.client = clients
        self.stack = stack_name
        self.region = region
        self.account = account_id
        self.local_urls = local_urls  # (kind, logical id) -> local endpoint (gateway, ALB)
        self.out = Provisioned()
        self._handlers: dict[str, Callable[[Resource], None]] = {
            "AWS::EC2::VPC": self._vpc,
            "AWS::EC2::Subnet": self._subnet,
            "AWS::EC2::SecurityGroup": self._security_group,
            "AWS::S3::Bucket": self._bucket,
            "AWS::SQS::Queue": self._queue,
            "AWS::SNS::Topic": self._topic,
            "AWS::Kinesis::Stream": self._stream,
            "AWS::DynamoDB::Table": self._table,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::ECR::Repository": self._repository,
            "AWS::Logs::LogGroup": self._log_group,
            "AWS::IAM::Role": self._role,
            "AWS::ECS::Cluster": self._cluster,
            "AWS::ECS::TaskDefinition": self._task_definition,
            "AWS::ECS::Service": self._service,
            "AWS::Serverless::LayerVersion": self._layer,
            "AWS::Serverless::Function": self._function,
            "AWS::Serverless::StateMachine": self._state_machine,
            "AWS::StepFunctions::StateMachine": self._state_machine,
            "AWS::Serverless::Api": self._rest_api,
            "AWS::ApiGatewayV2::Api": self._v2_api,
            "AWS::Cognito::UserPool": self._user_pool,
            "AWS::Cognito::UserPoolClient": self._user_pool_client,
            "AWS::Cognito::UserPoolGroup": self._user_pool_group,
            "AWS::ElasticLoadBalancingV2::LoadBalancer": self._load_balancer,
            # Read, not created: a placeholder Ref, and the properties the gateway and the
            # local load balancer serve from, recorded with the API or listener they belong to.
            "AWS::ApiGatewayV2::Route": self._v2_part,
            "AWS::ApiGatewayV2::Integration": self._v2_part,
            "AWS::ApiGatewayV2::Authorizer": self._v2_part,
            "AWS::ApiGatewayV2::Stage": self._v2_part,
            "AWS::ElasticLoadBalancingV2::Listener": self._listener,
            "AWS::ElasticLoadBalancingV2::ListenerRule": self._listener_rule,
            "AWS::ElasticLoadBalancingV2::TargetGroup": self._target_group,
        }

    # -- orchestration -------------------------------------------------------------------------
    def check_supported(self) -> None:
        unsupported = sorted(
            f"{r.logical_id} ({r.type})"
            for r in self.template.resources.values()
            if r.type not in self._handlers
            and r.type not in NO_LOCAL_EFFECT
            # a resource whose condition is false is never created, whatever its type
            and not (r.condition and not self.resolver.condition(r.condition))
        )
        if unsupported:
            raise UnsupportedError(
                "the local cloud cannot run these resources of the template: "
                + ", ".join(unsupported)
            )

    def order(self) -> list[Resource]:
        graph: dict[str, set[str]] = {}
        for resource in self.template.resources.values():
            deps = references(resource.properties) | set(resource.depends_on)
            graph[resource.logical_id] = {d for d in deps if d in self.template.resources}
        try:
            return [self.template.resources[i] for i in TopologicalSorter(graph).static_order()]
        except CycleError as exc:
            raise TemplateError(f"circular references between resources: {exc.args[1]}") from exc

    def provision(self) -> Provisioned:
        self.check_supported()
        for resource in self.order():
            if resource.condition and not self.resolver.condition(resource.condition):
                self.out.skipped[resource.logical_id] = f"condition {resource.condition} is false"
                continue
            handler = self._handlers.get(resource.type)
            if handler is None:
                self.out.skipped[resource.logical_id] = NO_LOCAL_EFFECT[resource.type]
                self._register_placeholder(resource)
                continue
            # Lazy resources (functions, APIs) resolve their properties themselves.
            handler(resource)
        self._subscriptions()
        return self.out

    def _register_placeholder(self, resource: Resource) -> None:
        """A Ref for resources with no local effect, so references to them still resolve."""
        token = secrets.token_hex(8)
        ref = {
            "AWS::ApiGateway::ApiKey": token,
            "AWS::ApiGatewayV2::Authorizer": token[:10],
            "AWS::ApiGatewayV2::Integration": token[:7],
            "AWS::ApiGatewayV2::Deployment": token[:6],
        }.get(resource.type, f"{resource.logical_id}-{token[:8]}")
        attributes: dict[str, Any] = {}
        if resource.type == "AWS::EC2::EIP":
            attributes["AllocationId"] = f"eipalloc-{token}"
        if resource.type.startswith("AWS::ElasticLoadBalancingV2::"):
            ref = (
                f"arn:aws:elasticloadbalancing:{self.region}:{self.account}:"
                f"{resource.logical_id.lower()}/{self.stack}/{token}"
            )
            attributes["TargetGroupArn"] = ref
        self.resolver.register(resource.logical_id, ref, **attributes)

    def _props(self, resource: Resource) -> dict[str, Any]:
        return self.resolver.resolve(resource.properties)

    def _tags(self, props: dict[str, Any]) -> list[dict[str, str]]:
        return [{"Key": t["Key"], "Value": str(t["Value"])} for t in props.get("Tags", [])]

    # -- networking ----------------------------------------------------------------------------
    def _vpc(self, resource: Resource) -> None:
        props = self._props(resource)
        vpc = self.client("ec2").create_vpc(CidrBlock=props["CidrBlock"])["Vpc"]
        self.resolver.register(
            resource.logical_id, vpc["VpcId"], CidrBlock=props["CidrBlock"], VpcId=vpc["VpcId"]
        )

    def _subnet(self, resource: Resource) -> None:
        props = self._props(resource)
        kwargs = {"VpcId": props["VpcId"], "CidrBlock": props["CidrBlock"]}
        if props.get("AvailabilityZone"):
            kwargs["AvailabilityZone"] = props["AvailabilityZone"]
        subnet = self.client("ec2").create_subnet(**kwargs)["Subnet"]
        self.resolver.register(resource.logical_id, subnet["SubnetId"], SubnetId=subnet["SubnetId"])

    def _security_group(self, resource: Resource) -> None:
        props = self._props(resource)
        group = self.client("ec2").create_security_group(
            GroupName=props.get("GroupName") or _aws_name(self.stack, resource.logical_id),
            Description=props.get("GroupDescription", resource.logical_id),
            VpcId=props.get("VpcId"),
        )
        self.resolver.register(
            resource.logical_id,
            group["GroupId"],
            GroupId=group["GroupId"],
            VpcId=props.get("VpcId"),
        )

    # -- storage and messaging -----------------------------------------------------------------
    def _bucket(self, resource: Resource) -> None:
        props = self._props(resource)
        name = props.get("BucketName") or _bucket_name(self.stack, resource.logical_id)
        s3 = self.client("s3")
        kwargs: dict[str, Any] = {"Bucket": name}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        s3.create_bucket(**kwargs)
        if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        if "CorsConfiguration" in props:
            cors, _ = to_boto(
                "s3", "PutBucketCors", {"CORSConfiguration": props["CorsConfiguration"]}
            )
            s3.put_bucket_cors(Bucket=name, **cors)
        self.out.buckets[resource.logical_id] = records.Bucket(
            resource.logical_id, name, _queue_notifications(props)
        )
        self.resolver.register(
            resource.logical_id,
            name,
            Arn=f"arn:aws:s3:::{name}",
            DomainName=f"{name}.s3.amazonaws.com",
            RegionalDomainName=f"{name}.s3.{self.region}.amazonaws.com",
            WebsiteURL=f"http://{name}.s3-website-{self.region}.amazonaws.com",
        )

    def _queue(self, resource: Resource) -> None:
        props = self._props(resource)
        fifo = str(props.get("FifoQueue", "false")).lower() == "true"
        name = props.get("QueueName") or _aws_name(self.stack, resource.logical_id, fifo=fifo)
        attributes: dict[str, str] = {}
        for key in (
            "DelaySeconds",
            "MaximumMessageSize",
            "MessageRetentionPeriod",
            "ReceiveMessageWaitTimeSeconds",
            "VisibilityTimeout",
            "FifoQueue",
            "ContentBasedDeduplication",
            "DeduplicationScope",
            "FifoThroughputLimit",
            "SqsManagedSseEnabled",
            "KmsMasterKeyId",
        ):
            if key in props:
                value = props[key]
                attributes[key] = str(value).lower() if isinstance(value, bool) else str(value)
        for key in ("RedrivePolicy", "RedriveAllowPolicy"):
            if key in props:
                value = props[key]
                attributes[key] = value if isinstance(value, str) else json.dumps(value)
        url = self.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = f"arn:aws:sqs:{self.region}:{self.account}:{name}"
        self.out.queues[resource.logical_id] = records.Queue(resource.logical_id, name, url, arn)
        self.resolver.register(resource.logical_id, url, Arn=arn, QueueName=name, QueueUrl=url)

    def _topic(self, resource: Resource) -> None:
        props = self._props(resource)
        fifo = str(props.get("FifoTopic", "false")).lower() == "true"
        name = props.get("TopicName") or _aws_name(
            self.stack, resource.logical_id, limit=256, fifo=fifo
        )
        attributes = {}
        if fifo:
            attributes["FifoTopic"] = "true"
            attributes["ContentBasedDeduplication"] = str(
                props.get("ContentBasedDeduplication", False)
            ).lower()
        arn = self.client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
        self.out.topics[resource.logical_id] = arn
        self.resolver.register(resource.logical_id, arn, TopicArn=arn, TopicName=name)
        for subscription in props.get("Subscription", []):
            self.client("sns").subscribe(
                TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"]
            )

    def _subscriptions(self) -> None:
        for resource in self.template.of_type("AWS::SNS::Subscription"):
            if resource.condition and not self.resolver.condition(resource.condition):
                continue
            self.out.skipped.pop(resource.logical_id, None)
            props = self._props(resource)
            attributes = {}
            for key in ("RawMessageDelivery", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy"):
                if key in props:
                    value = props[key]
                    attributes[key] = (
                        json.dumps(value)
                        if isinstance(value, dict)
                        else str(value).lower()
                        if isinstance(value, bool)
                        else str(value)
                    )
            arn = self.client("sns").subscribe(
                TopicArn=props["TopicArn"],
                Protocol=props["Protocol"],
                Endpoint=props["Endpoint"],
                Attributes=attributes,
                ReturnSubscriptionArn=True,
            )["SubscriptionArn"]
            self.resolver.register(resource.logical_id, arn)

    def _stream(self, resource: Resource) -> None:
        props = self._props(resource)
        name = props.get("Name") or _aws_name(self.stack, resource.logical_id, limit=128)
        kinesis = self.client("kinesis")
        kinesis.create_stream(StreamName=name, ShardCount=int(props.get("ShardCount", 1)))
        kinesis.get_waiter("stream_exists").wait(
            StreamName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50}
        )
        arn = f"arn:aws:kinesis:{self.region}:{self.account}:stream/{name}"
        self.out.streams[resource.logical_id] = records.Stream(resource.logical_id, name, arn)
        self.resolver.register(resource.logical_id, name, Arn=arn)

    def _table(self, resource: Resource) -> None:
        props = self._props(resource)
        name = props.get("TableName") or _aws_name(self.stack, resource.logical_id, limit=255)
        params, _ = to_boto("dynamodb", "CreateTable", props)
        params["TableName"] = name
        params.pop("SSESpecification", None)  # CloudFormation's SSEEnabled is not the API's shape
        if "StreamSpecification" in params:
            # CloudFormation's StreamSpecification is the view type alone; the API's also says on.
            params["StreamSpecification"]["StreamEnabled"] = True
        dynamodb = self.client("dynamodb")
        description = dynamodb.create_table(**params)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and str(ttl.get("Enabled")).lower() == "true":
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        self.out.tables[resource.logical_id] = records.Table(resource.logical_id, name)
        self.resolver.register(
            resource.logical_id,
            name,
            Arn=description["TableArn"],
            StreamArn=description.get(
                "LatestStreamArn",
                description["TableArn"] + records.STREAMLESS_TABLE_STREAM_SUFFIX,
            ),
        )

    def _secret(self, resource: Resource) -> None:
        props = self._props(resource)
        name = props.get("Name") or _aws_name(self.stack, resource.logical_id, limit=256)
        value = props.get("SecretString")
        if value is None:
            generate = props.get("GenerateSecretString", {})
            value = secrets.token_urlsafe(int(generate.get("PasswordLength", 32)))
        arn = self.client("secretsmanager").create_secret(Name=name, SecretString=value)["ARN"]
        self.resolver.register(resource.logical_id, arn, Id=arn)

    def _repository(self, resource: Resource) -> None:
        props = self._props(resource)
        name = props.get("RepositoryName") or _aws_name(self.stack, resource.logical_id).lower()
        repo = self.client("ecr").create_repository(repositoryName=name)["repository"]
        self.resolver.register(
            resource.logical_id,
            name,
            Arn=repo["repositoryArn"],
            RepositoryUri=repo["repositoryUri"],
        )

    def _log_group(self, resource: Resource) -> None:
        props = self._props(resource)
        name = props.get("LogGroupName") or _aws_name(self.stack, resource.logical_id, limit=512)
        logs = self.client("logs")
        logs.create_log_group(logGroupName=name)
        if props.get("RetentionInDays"):
            logs.put_retention_policy(
                logGroupName=name, retentionInDays=int(props["RetentionInDays"])
            )
        self.resolver.register(
            resource.logical_id,
            name,
            Arn=f"arn:aws:logs:{self.region}:{self.account}:log-group:{name}:*",
        )

    def _role(self, resource: Resource) -> None:
        props = self._props(resource)
        name = props.get("RoleName") or _aws_name(self.stack, resource.logical_id, limit=64)
        role = self.client("iam").create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(props.get("AssumeRolePolicyDocument", {})),
        )["Role"]
        self.resolver.register(resource.logical_id, name, Arn=role["Arn"], RoleId=role["RoleId"])

    # -- ECS -----------------------------------------------------------------------------------
    def _cluster(self, resource: Resource) -> None:
        props = self._props(resource)
        name = props.get("ClusterName") or _aws_name(self.stack, resource.logical_id, limit=255)
        arn = self.client("ecs").create_cluster(clusterName=name)["cluster"]["clusterArn"]
        self.out.clusters[resource.logical_id] = name
        self.resolver.register(resource.logical_id, name, Arn=arn)

    def _task_definition(self, resource: Resource) -> None:
        props = self._props(resource)
        params, _ = to_boto("ecs", "RegisterTaskDefinition", props)
        params.setdefault("family", _aws_name(self.stack, resource.logical_id, limit=255))
        arn = self.client("ecs").register_task_definition(**params)["taskDefinition"][
            "taskDefinitionArn"
        ]
        self.out.task_definitions[resource.logical_id] = records.TaskDefinition(
            resource.logical_id, arn, props["ContainerDefinitions"], props.get("TaskRoleArn")
        )
        self.resolver.register(resource.logical_id, arn, TaskDefinitionArn=arn)

    def _service(self, resource: Resource) -> None:
        props = self._props(resource)
        name = props.get("ServiceName") or _aws_name(self.stack, resource.logical_id, limit=255)
        params, _ = to_boto("ecs", "CreateService", props)
        params["serviceName"] = name
        params.pop("healthCheckGracePeriodSeconds", None)
        service = self.client("ecs").create_service(**params)["service"]
        target_groups = [lb["TargetGroupArn"] for lb in props.get("LoadBalancers", [])]
        self.out.services[resource.logical_id] = records.Service(
            resource.logical_id, props["Cluster"], service["serviceArn"], target_groups
        )
        self.resolver.register(resource.logical_id, service["serviceArn"], Name=name)

    # -- serverless ----------------------------------------------------------------------------
    def _layer(self, resource: Resource) -> None:
        content = self.template.root / str(resource.properties["ContentUri"])
        if not content.is_dir():
            raise TemplateError(f"{resource.logical_id}: ContentUri {content} is not a folder")
        self.out.layers[resource.logical_id] = content
        arn = f"arn:aws:lambda:{self.region}:{self.account}:layer:{resource.logical_id}:1"
        self.resolver.register(resource.logical_id, arn)

    def _function(self, resource: Resource) -> None:
        props = resource.properties
        if props.get("PackageType") == "Image" or "InlineCode" in props:
            raise UnsupportedError(
                f"{resource.logical_id}: only zip functions with a CodeUri folder run locally"
            )
        name = props.get("FunctionName") or _aws_name(self.stack, resource.logical_id, limit=64)
        if isinstance(name, dict):
            name = self.resolver.resolve(name)
        arn = f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"
        self.out.functions[resource.logical_id] = records.Function(
            resource.logical_id, resource, str(name), arn
        )
        self.resolver.register(resource.logical_id, name, Arn=arn)

    def _state_machine(self, resource: Resource) -> None:
        props = resource.properties
        name = props.get("Name") or _aws_name(self.stack, resource.logical_id)
        if "DefinitionUri" in props:
            path = self.template.root / str(props["DefinitionUri"])
            try:
                definition = path.read_text()
            except FileNotFoundError as exc:
                raise TemplateError(f"{resource.logical_id}: no definition file {path}") from exc
        elif "Definition" in props:
            definition = json.dumps(self.resolver.resolve(props["Definition"]))
        elif "DefinitionString" in props:
            definition = self.resolver.resolve(props["DefinitionString"])
        else:
            raise TemplateError(f"{resource.logical_id}: no Definition/DefinitionUri")
        substitutions = self.resolver.resolve(props.get("DefinitionSubstitutions", {}))
        for key, value in substitutions.items():
            definition = definition.replace("${" + key + "}", str(value))
        role = self.resolver.resolve(props.get("Role") or props.get("RoleArn")) or (
            f"arn:aws:iam::{self.account}:role/{name}-role"
        )
        arn = self.client("stepfunctions").create_state_machine(
            name=name, definition=definition, roleArn=role, type=props.get("Type", "STANDARD")
        )["stateMachineArn"]
        self.out.state_machines[resource.logical_id] = arn
        self.resolver.register(resource.logical_id, arn, Name=name, Arn=arn)

    def _rest_api(self, resource: Resource) -> None:
        api_id = secrets.token_hex(5)
        props = self.resolver.resolve(resource.properties)
        self.out.rest_apis[resource.logical_id] = records.RestApi(
            resource.logical_id, api_id, props
        )
        self.resolver.register(resource.logical_id, api_id, RootResourceId=secrets.token_hex(5))
        # SAM's implicit resources for an API with a usage plan.
        self.resolver.register(f"{resource.logical_id}ApiKey", secrets.token_hex(5))
        self.resolver.register(
            f"{resource.logical_id}{props.get('StageName', 'Prod')}Stage", "stage"
        )

    def _v2_api(self, resource: Resource) -> None:
        props = self._props(resource)
        protocol = props.get("ProtocolType")
        if protocol == "WEBSOCKET":
            apis, kind = self.out.websocket_apis, "websocket"
        elif protocol == "HTTP":
            if "Body" in props or "BodyS3Location" in props or "Target" in props:
                raise UnsupportedError(
                    f"{resource.logical_id}: declare the HTTP API's routes as resources "
                    "(OpenAPI bodies and quick create do not run locally)"
                )
            apis, kind = self.out.http_apis, "http"
        else:
            raise UnsupportedError(f"{resource.logical_id}: ProtocolType {protocol!r}")
        api_id = secrets.token_hex(5)
        apis[resource.logical_id] = records.V2Api(resource.logical_id, api_id, props)
        self.resolver.register(
            resource.logical_id,
            api_id,
            ApiId=api_id,
            ApiEndpoint=self.local_urls(kind, resource.logical_id),
        )

    # -- Cognito ---------------------------------------------------------------------------------
    def _user_pool(self, resource: Resource) -> None:
        props = self._props(resource)
        name = props.get("UserPoolName") or _aws_name(self.stack, resource.logical_id, limit=128)
        params, dropped = to_boto("cognito-idp", "CreateUserPool", props)
        params["PoolName"] = name
        if dropped:
            log.debug("%s: not passed to CreateUserPool: %s", resource.logical_id, dropped)
        pool = self.client("cognito-idp").create_user_pool(**params)["UserPool"]
        pool_id = pool["Id"]
        provider = f"cognito-idp.{self.region}.amazonaws.com/{pool_id}"
        self.out.user_pools[resource.logical_id] = pool_id
        self.resolver.register(
            resource.logical_id,
            pool_id,
            Arn=pool["Arn"],
            UserPoolId=pool_id,
            ProviderName=provider,
            ProviderURL=f"https://{provider}",
        )

    def _user_pool_client(self, resource: Resource) -> None:
        props = self._props(resource)
        params, _ = to_boto("cognito-idp", "CreateUserPoolClient", props)
        params.setdefault("ClientName", _aws_name(self.stack, resource.logical_id, limit=128))
        client = self.client("cognito-idp").create_user_pool_client(**params)["UserPoolClient"]
        self.resolver.register(
            resource.logical_id,
            client["ClientId"],
            ClientId=client["ClientId"],
            ClientSecret=client.get("ClientSecret", ""),
            Name=client["ClientName"],
        )

    def _user_pool_group(self, resource: Resource) -> None:
        props = self._props(resource)
        params, _ = to_boto("cognito-idp", "CreateGroup", props)
        params.setdefault("GroupName", _aws_name(self.stack, resource.logical_id, limit=128))
        group = self.client("cognito-idp").create_group(**params)["Group"]
        self.resolver.register(resource.logical_id, group["GroupName"])

    def _load_balancer(self, resource: Resource) -> None:
        arn = (
            f"arn:aws:elasticloadbalancing:{self.region}:{self.account}:loadbalancer/app/"
            f"{self.stack}/{secrets.token_hex(8)}"
        )
        self.out.load_balancers[resource.logical_id] = records.LoadBalancer(
            resource.logical_id, arn
        )
        dns = self.local_urls("alb", resource.logical_id)
        self.resolver.register(
            resource.logical_id,
            arn,
            DNSName=dns,
            LoadBalancerFullName=f"app/{self.stack}/local",
            CanonicalHostedZoneID="Z35SXDOTRQ7X7K",
        )

    # -- parts read with their API or load balancer -------------------------------------------
    def _read_part(self, resource: Resource) -> records.Part:
        """A placeholder ``Ref`` (nothing to create), then the resolved properties."""
        self._register_placeholder(resource)
        return records.Part(
            resource.logical_id, str(self.resolver.refs[resource.logical_id]), self._props(resource)
        )

    def _v2_part(self, resource: Resource) -> None:
        """A route, integration, authorizer or stage, kept with the API its ``ApiId`` names."""
        part = self._read_part(resource)
        api_ref = resource.properties.get("ApiId")
        api = self.out.v2_api(api_ref.get("Ref", "")) if isinstance(api_ref, dict) else None
        if api is None:
            return  # part of no API of the template: nothing serves it
        if resource.type == "AWS::ApiGatewayV2::Route":
            api.routes.append(part)
        elif resource.type == "AWS::ApiGatewayV2::Integration":
            api.integrations[part.ref] = part
        elif resource.type == "AWS::ApiGatewayV2::Authorizer":
            api.authorizers[part.ref] = part
        else:
            api.stages.append(part)

    def _listener(self, resource: Resource) -> None:
        part = self._read_part(resource)
        listener = records.Listener(part.logical_id, part.ref, part.props)
        for balancer in self.out.load_balancers.values():
            if balancer.arn == part.props.get("LoadBalancerArn"):
                balancer.listeners.append(listener)

    def _listener_rule(self, resource: Resource) -> None:
        part = self._read_part(resource)
        found = self.out.listener(str(part.props.get("ListenerArn")))
        if found is not None:
            found[1].rules.append(part)

    def _target_group(self, resource: Resource) -> None:
        part = self._read_part(resource)
        self.out.target_groups[part.logical_id] = records.TargetGroup(
            part.logical_id, part.ref, str(part.props.get("HealthCheckPath", "/"))
        )


def _queue_notifications(props: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """A bucket's own ``NotificationConfiguration.QueueConfigurations`` (S3 -> SQS), in
    ``PutBucketNotificationConfiguration``'s shape; moto delivers them (URL-encoded keys, the
    ``s3:TestEvent`` first), as S3 does."""
    configs: list[dict[str, Any]] = []
    for entry in (props.get("NotificationConfiguration") or {}).get("QueueConfigurations", []):
        config: dict[str, Any] = {"QueueArn": entry["Queue"], "Events": [entry["Event"]]}
        rules = ((entry.get("Filter") or {}).get("S3Key") or {}).get("Rules")
        if rules:
            config["Filter"] = {"Key": {"FilterRules": rules}}
        configs.append(config)
    return tuple(configs)
