"""Security and reliability invariants of template.yaml, read as the local cloud reads it.

Each test names the resources that break its rule, so a resource added later without its DLQ,
encryption, TLS-only policy, log retention, scoped IAM or sample event fails here by name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from localcloud.template import Resource, load_template
from tools.checks import security

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")

# Statements that may name every resource, and why: AWS offers no narrower resource for them.
WILDCARD_ACTIONS = {
    # Step Functions' CloudWatch Logs delivery (vended logs): the documented policy is on "*".
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    # X-Ray segments and sampling rules have no resource ARN.
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    # The registry login token is account-wide (the task execution role).
    "ecr:GetAuthorizationToken",
}
# AWS-managed policies a role may attach: API Gateway's account logging role needs exactly this.
MANAGED_POLICIES = {
    "AmazonAPIGatewayPushToCloudWatchLogs",
    # The ECS agent's own role on the optional GPU container instances (YoloGpu=true only): AWS's
    # documented policy for container instances (ecs:DiscoverPollEndpoint has no resource scope).
    "AmazonEC2ContainerServiceforEC2Role",
}


def of_type(*types: str) -> list[Resource]:
    return list(TEMPLATE.of_type(*types))


def target(value: Any) -> str:
    """The logical id a ``Ref`` or ``GetAtt`` names ("" for anything else)."""
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    return ""


def dead_letter_queues() -> set[str]:
    """Queues that receive what others gave up on: redrive targets (of queues and of SNS
    subscriptions) and Lambda OnFailure ones (asynchronous invocations' and stream event
    sources')."""
    found = {
        target(resource.properties["RedrivePolicy"]["deadLetterTargetArn"])
        for resource in of_type("AWS::SQS::Queue", "AWS::SNS::Subscription")
        if "RedrivePolicy" in resource.properties
    }
    for function in of_type("AWS::Serverless::Function"):
        configs = [function.properties.get("EventInvokeConfig", {})]
        configs += [
            event.get("Properties", {})
            for event in function.properties.get("Events", {}).values()
            if event["Type"] in ("DynamoDB", "Kinesis")
        ]
        for config in configs:
            on_failure = config.get("DestinationConfig", {}).get("OnFailure", {})
            if on_failure.get("Type") == "SQS":
                found.add(target(on_failure["Destination"]))
    return {name for name in found if name}


def test_the_template_has_the_resources_these_rules_check():
    # Given the template / When its queues, buckets, log groups and functions are listed
    kinds = ["AWS::SQS::Queue", "AWS::S3::Bucket", "AWS::Logs::LogGroup"]
    kinds += ["AWS::Serverless::Function"]

    # Then each kind exists (a rule over nothing would pass by accident)
    assert all(of_type(kind) for kind in kinds)
    assert dead_letter_queues()


def test_every_queue_but_a_dead_letter_queue_redrives_after_a_bounded_number_of_receives():
    # Given every queue that is not itself a dead-letter queue
    dlqs = dead_letter_queues()
    queues = [q for q in of_type("AWS::SQS::Queue") if q.logical_id not in dlqs]

    # When their redrive policies are read
    missing = [
        q.logical_id
        for q in queues
        if not 1 <= int(q.properties.get("RedrivePolicy", {}).get("maxReceiveCount", 0)) <= 10
    ]

    # Then each sends a message to its DLQ after 1-10 receives
    assert queues
    assert not missing, f"no RedrivePolicy with maxReceiveCount 1-10: {missing}"


def test_every_sns_subscription_dead_letters_into_a_queue_that_sns_may_send_to():
    # Given every subscription of the template (SAM SNS events included: they have none)
    subscriptions = of_type("AWS::SNS::Subscription")
    sam_sns_events = [
        f"{function.logical_id}.{name}"
        for function in of_type("AWS::Serverless::Function")
        for name, event in function.properties.get("Events", {}).items()
        if event["Type"] == "SNS"
    ]
    queues = {q.logical_id: q.properties for q in of_type("AWS::SQS::Queue")}
    policies = of_type("AWS::SQS::QueuePolicy")

    # When their redrive policies and the DLQs' queue policies are read
    missing = [s.logical_id for s in subscriptions if "RedrivePolicy" not in s.properties]
    wrong = []
    for subscription in subscriptions:
        dlq = target(subscription.properties.get("RedrivePolicy", {}).get("deadLetterTargetArn"))
        topic = target(subscription.properties["TopicArn"])
        fifo_topic = TEMPLATE.resources[topic].properties.get("FifoTopic")
        allowed = any(
            dlq in {target(q) for q in policy.properties["Queues"]}
            and any(
                statement["Principal"] == {"Service": "sns.amazonaws.com"}
                and statement["Action"] == "sqs:SendMessage"
                for statement in policy.properties["PolicyDocument"]["Statement"]
            )
            for policy in policies
        )
        if dlq and (not allowed or bool(queues[dlq].get("FifoQueue")) != bool(fifo_topic)):
            wrong.append(subscription.logical_id)

    # Then each has a DLQ (FIFO for a FIFO topic) whose policy lets SNS send to it
    assert subscriptions
    assert not sam_sns_events, f"SNS events without a redrive policy: {sam_sns_events}"
    assert not missing, f"subscriptions without a RedrivePolicy: {missing}"
    assert not wrong, f"subscriptions whose DLQ SNS cannot use: {wrong}"


def test_a_fifo_queue_dead_letters_into_a_fifo_queue():
    # Given the FIFO queues with a redrive policy
    queues = {q.logical_id: q.properties for q in of_type("AWS::SQS::Queue")}
    fifo = [name for name, props in queues.items() if props.get("FifoQueue") is True]

    # When the type of their DLQ is read
    wrong = [
        name
        for name in fifo
        if "RedrivePolicy" in queues[name]
        and queues[target(queues[name]["RedrivePolicy"]["deadLetterTargetArn"])].get("FifoQueue")
        is not True
    ]

    # Then it is FIFO too (SQS refuses anything else)
    assert fifo
    assert not wrong, f"FIFO queues with a standard DLQ: {wrong}"


def test_every_queue_is_encrypted_at_rest():
    # Given every queue / When its encryption is read
    plain = [
        q.logical_id
        for q in of_type("AWS::SQS::Queue")
        if q.properties.get("SqsManagedSseEnabled") is not True
        and "KmsMasterKeyId" not in q.properties
    ]

    # Then SSE-SQS or a KMS key protects it
    assert not plain, f"queues without SSE: {plain}"


def _tls_only_buckets() -> set[str]:
    found = set()
    for policy in of_type("AWS::S3::BucketPolicy"):
        bucket = target(policy.properties["Bucket"])
        for statement in policy.properties["PolicyDocument"]["Statement"]:
            secure = statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
            resources = statement.get("Resource", [])
            covers_objects = any(
                isinstance(r, dict) and str(r.get("Fn::Sub", "")).endswith(".Arn}/*")
                for r in resources
            )
            if (
                statement.get("Effect") == "Deny"
                and statement.get("Principal") == "*"
                and statement.get("Action") in ("s3:*", ["s3:*"])
                and str(secure).lower() == "false"
                and covers_objects
            ):
                found.add(bucket)
    return found


@pytest.mark.parametrize("bucket", of_type("AWS::S3::Bucket"), ids=lambda b: b.logical_id)
def test_every_bucket_is_encrypted_private_and_tls_only(bucket: Resource):
    # Given a bucket of the template
    props = bucket.properties

    # When its encryption, public access block and bucket policies are read
    rules = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
    algorithms = {r.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in rules}
    block = props.get("PublicAccessBlockConfiguration", {})
    flags = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")

    # Then it encrypts by default, blocks every public access and denies plain HTTP
    assert algorithms & {"AES256", "aws:kms", "aws:kms:dsse"}, "no default encryption"
    assert all(block.get(flag) is True for flag in flags), f"public access not blocked: {block}"
    assert bucket.logical_id in _tls_only_buckets(), "no TLS-only (aws:SecureTransport) policy"


def test_every_log_group_expires_its_events():
    # Given every log group / When its retention is read
    forever = [
        g.logical_id
        for g in of_type("AWS::Logs::LogGroup")
        if not g.properties.get("RetentionInDays")
    ]

    # Then none keeps logs forever
    assert not forever, f"log groups without RetentionInDays: {forever}"


def test_functions_containers_state_machines_and_apis_log_into_the_stack_log_groups():
    # Given the log groups the template owns
    groups = {g.logical_id for g in of_type("AWS::Logs::LogGroup")}
    problems = []

    # When each producer's log destination is read
    for fn in of_type("AWS::Serverless::Function"):
        if target(fn.properties.get("LoggingConfig", {}).get("LogGroup")) not in groups:
            problems.append(f"{fn.logical_id}: LoggingConfig.LogGroup")
    for task in of_type("AWS::ECS::TaskDefinition"):
        for container in task.properties["ContainerDefinitions"]:
            options = container.get("LogConfiguration", {}).get("Options", {})
            if target(options.get("awslogs-group")) not in groups:
                problems.append(f"{task.logical_id}/{container['Name']}: awslogs-group")
    for machine in of_type("AWS::Serverless::StateMachine"):
        for destination in machine.properties.get("Logging", {}).get("Destinations", []):
            if target(destination["CloudWatchLogsLogGroup"]["LogGroupArn"]) not in groups:
                problems.append(f"{machine.logical_id}: Logging destination")
    for api in of_type("AWS::Serverless::Api"):
        if target(api.properties.get("AccessLogSetting", {}).get("DestinationArn")) not in groups:
            problems.append(f"{api.logical_id}: AccessLogSetting")
    for stage in of_type("AWS::ApiGatewayV2::Stage"):
        if (
            target(stage.properties.get("AccessLogSettings", {}).get("DestinationArn"))
            not in groups
        ):
            problems.append(f"{stage.logical_id}: AccessLogSettings")

    # Then every one of them writes to a log group with retention (none creates its own)
    assert not problems, f"logging outside the template's log groups: {problems}"


def _statements() -> list[tuple[str, dict[str, Any]]]:
    """Every inline IAM statement: roles, policies, and SAM functions' and state machines'."""
    found: list[tuple[str, dict[str, Any]]] = []
    for role in of_type("AWS::IAM::Role"):
        for policy in role.properties.get("Policies", []):
            found += [(role.logical_id, s) for s in policy["PolicyDocument"]["Statement"]]
    for policy in of_type("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        found += [(policy.logical_id, s) for s in policy.properties["PolicyDocument"]["Statement"]]
    for owner in of_type("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
        policies = owner.properties.get("Policies", [])
        for policy in policies if isinstance(policies, list) else [policies]:
            # SAM policy templates ({"SQSSendMessagePolicy": {...}}) are scoped by their argument.
            if isinstance(policy, dict) and "Statement" in policy:
                found += [(owner.logical_id, s) for s in policy["Statement"]]
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_statement_grants_every_resource_except_where_aws_allows_no_scope():
    # Given every inline IAM statement of the template
    statements = _statements()

    # When the statements on Resource "*" are compared with the allow-list
    broad = [
        f"{owner}: {sorted(set(_as_list(s['Action'])) - WILDCARD_ACTIONS)}"
        for owner, s in statements
        if "*" in _as_list(s.get("Resource")) and not set(_as_list(s["Action"])) <= WILDCARD_ACTIONS
    ]
    wildcard_actions = [
        f"{owner}: {a}"
        for owner, s in statements
        for a in _as_list(s["Action"])
        if a.endswith(":*")
    ]

    # Then only log delivery, X-Ray and the registry token are account-wide, and no statement
    # grants every action of a service
    assert statements
    assert not broad, f"Resource '*' outside the allow-list: {broad}"
    assert not wildcard_actions, f"service-wide actions: {wildcard_actions}"


def test_roles_attach_no_aws_managed_policy_but_the_allowed_ones():
    # Given every role / When its managed policies are read
    attached = {
        role.logical_id: str(arn.get("Fn::Sub", arn) if isinstance(arn, dict) else arn)
        for role in of_type("AWS::IAM::Role")
        for arn in role.properties.get("ManagedPolicyArns", [])
    }
    unexpected = {
        role: arn
        for role, arn in attached.items()
        if arn.rsplit("/", 1)[-1] not in MANAGED_POLICIES
    }

    # Then broad AWS-managed policies (Resource "*") are replaced by scoped inline statements
    assert not unexpected, f"managed policies outside the allow-list: {unexpected}"


@pytest.mark.parametrize(
    "function", of_type("AWS::Serverless::Function"), ids=lambda f: f.logical_id
)
def test_every_function_has_a_sample_event(function: Resource):
    # Given a function / When events/ is searched for its folder's name
    folder = Path(str(function.properties["CodeUri"])).name
    events = sorted((ROOT / "events").glob(f"{folder}_*.json"))

    # Then `sam local invoke` and the tests have at least one event for it
    assert events, f"no events/{folder}_<case>.json"


def test_sqs_driven_functions_cannot_outlive_their_queue_visibility_timeout():
    # Given the SQS event sources of the functions
    pairs = [
        (fn, target(event["Properties"]["Queue"]))
        for fn in of_type("AWS::Serverless::Function")
        for event in fn.properties.get("Events", {}).values()
        if event["Type"] == "SQS"
    ]

    # When the queue's visibility timeout is compared with the function's timeout
    short = [
        f"{fn.logical_id} ({fn.properties['Timeout']} s) <- {queue}"
        for fn, queue in pairs
        if int(TEMPLATE.get(queue).properties.get("VisibilityTimeout", 30))
        < 6 * int(fn.properties["Timeout"])
    ]

    # Then it is at least six times as long (AWS's advice: retries and batching fit in it)
    assert pairs
    assert not short, f"visibility timeout under 6x the function timeout: {short}"


def test_workers_finish_or_give_back_a_job_within_their_queue_visibility_timeout():
    # Given each algorithm worker's environment and its request queue
    checked = 0
    for task in of_type("AWS::ECS::TaskDefinition"):
        for container in task.properties["ContainerDefinitions"]:
            env = {e["Name"]: e["Value"] for e in container.get("Environment", [])}
            if "REQUEST_QUEUE_URL" not in env:
                continue
            queue = TEMPLATE.get(target(env["REQUEST_QUEUE_URL"]) or "")
            visibility = int(queue.properties["VisibilityTimeout"])

            # Then the worker's own visibility timeout and shutdown grace fit in the queue's,
            # and ECS waits for the grace before it kills the container
            assert int(env["VISIBILITY_TIMEOUT_SECONDS"]) <= visibility, task.logical_id
            assert int(env["SHUTDOWN_GRACE_SECONDS"]) < visibility, task.logical_id
            assert int(env["SHUTDOWN_GRACE_SECONDS"]) <= int(container["StopTimeout"])
            checked += 1
    assert checked == 3


def test_outputs_never_land_in_a_bucket_whose_notifications_start_a_pipeline():
    # Given the buckets whose new objects invoke a function
    triggering = {
        target(event["Properties"]["Bucket"])
        for fn in of_type("AWS::Serverless::Function")
        for event in fn.properties.get("Events", {}).values()
        if event["Type"] == "S3"
    }
    # When the buckets that containers write results into are collected
    written = {
        target(variable["Value"])
        for task in of_type("AWS::ECS::TaskDefinition")
        for container in task.properties["ContainerDefinitions"]
        for variable in container.get("Environment", [])
        if re.search(r"(OUTPUT|FRAMES)_BUCKET$", variable["Name"])
    }

    # Then no result can retrigger an input (the sets are disjoint)
    assert triggering
    assert written
    both = triggering & written
    assert not both, f"results written to buckets whose notifications start a pipeline: {both}"


def test_every_checkov_skip_says_why():
    # Given every checkov skip written on a resource, and those for every resource of a type
    skips = [
        (r.logical_id, skip)
        for r in TEMPLATE.resources.values()
        for skip in r.metadata.get("checkov", {}).get("skip", [])
    ]
    uniform = yaml.safe_load(security.UNIFORM_SKIPS.read_text())
    skips += [(rtype, skip) for rtype, listed in uniform.items() for skip in listed]

    # Then each names a check and gives its reason in place
    assert skips
    bad = [
        name
        for name, skip in skips
        if not re.fullmatch(r"CKV2?_AWS_\d+", str(skip.get("id")))
        or len(str(skip.get("comment", ""))) < 40
    ]
    assert not bad, f"skips without a check id or a reason: {bad}"


def test_tasks_accept_only_the_load_balancer_on_the_container_port():
    # Given the tasks' security group / When its ingress rules are read
    rules = TEMPLATE.get("TaskSecurityGroup").properties["SecurityGroupIngress"]

    # Then only the load balancer's group may connect, on the container port only
    assert rules
    for rule in rules:
        assert target(rule.get("SourceSecurityGroupId")) == "LoadBalancerSecurityGroup", rule
        assert (rule["FromPort"], rule["ToPort"]) == (8080, 8080), rule
        assert "CidrIp" not in rule, rule


def test_uniform_skips_are_written_once_and_a_resources_own_reason_wins():
    # Given the skips that hold for every resource of a type
    uniform = yaml.safe_load(security.UNIFORM_SKIPS.read_text())

    # Then no resource repeats one of them word for word (it is said once, in one place)
    repeated = [
        (r.logical_id, skip["id"])
        for r in TEMPLATE.resources.values()
        for skip in r.metadata.get("checkov", {}).get("skip", [])
        if skip in uniform.get(r.type, [])
    ]
    assert not repeated, f"already in tools/checks/uniform_skips.yaml: {repeated}"

    # and in what checkov scans, each resource of the type carries them, its own reason first
    scanned = security.scanned_document()["Resources"]
    for logical_id, resource in scanned.items():
        ids = [s["id"] for s in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])]
        for skip in uniform.get(resource["Type"], []):
            assert ids.count(skip["id"]) == 1, (logical_id, skip["id"])
    reaper = scanned["JobSweeperFunction"]["Metadata"]["checkov"]["skip"]
    sweep = next(s for s in reaper if s["id"] == "CKV_AWS_116")
    assert "sweep" in sweep["comment"]
