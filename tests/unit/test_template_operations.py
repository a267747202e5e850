"""Operating the stack: first deploy without images, autoscaling, alarms, dashboard and outputs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from localcloud.template import Resource
from tests.unit.test_template_policies import ROOT, TEMPLATE, dead_letter_queues, of_type, target

SERVICES = [s.logical_id for s in of_type("AWS::ECS::Service")]
SCALING_ALARM_ACTIONS = "AWS::ApplicationAutoScaling::ScalingPolicy"
# Output names that clients and .env files already read: they must never change. (RestApiKeyId
# went with the API key itself: the REST API takes Cognito tokens, issue 10.)
PUBLISHED_OUTPUTS = {
    "ImageInputBucketName", "ImageOutputBucketName", "ImageProcessingQueueUrl",
    "ImageProcessingStateMachineArn", "VideoInputBucketName", "VideoFramesBucketName",
    "VideoFrameStreamName", "VideoProcessingQueueUrl", "VideoIngestStateMachineArn",
    "PacsBucketName", "OutputBucketName", "JobsTableName", "ClientsTableName",
    "ConnectionsTableName", "ResultsTopicArn", "ResultsQueueUrl", "RestApiUrl", "UserPoolId",
    "UserPoolClientId", "ServicesApiUrl", "TicketsTableName", "WebsocketUrl", "LoadBalancerUrl",
    "PacsApiUrl", "ClusterName", "GrayscaleRepositoryUri",
    "FrameExtractorRepositoryUri", "YoloStreamRepositoryUri", "PacsApiRepositoryUri",
    "AlgorithmWorkerRepositoryUri",
}  # fmt: skip


def references(value: Any) -> set[str]:
    """Logical ids and parameters a value names through Ref, GetAtt or Sub."""
    if isinstance(value, list):
        return set().union(*map(references, value)) if value else set()
    if not isinstance(value, dict):
        return set()
    found = {name for name in [target(value)] if name}
    if "Fn::Sub" in value:
        text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
        found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
    return found | set().union(*(references(v) for v in value.values()))


def scalable_target(service: str) -> Resource:
    [found] = [
        t
        for t in of_type("AWS::ApplicationAutoScaling::ScalableTarget")
        if service in references(t.properties["ResourceId"])
    ]
    return found


def policies_of(scalable: Resource) -> list[Resource]:
    return [
        p
        for p in of_type("AWS::ApplicationAutoScaling::ScalingPolicy")
        if target(p.properties["ScalingTargetId"]) == scalable.logical_id
    ]


def alarms_on(metric: str, dimension_value: str) -> list[Resource]:
    return [
        a
        for a in of_type("AWS::CloudWatch::Alarm")
        if a.properties.get("MetricName") == metric
        and any(dimension_value in references(d["Value"]) for d in a.properties["Dimensions"])
    ]


def notifies_operators(alarm: Resource) -> bool:
    return [target(a) for a in alarm.properties.get("AlarmActions", [])] == ["AlarmTopic"]


def test_the_first_deploy_runs_no_task_until_images_are_pushed():
    # Given the image tag parameter and the condition built on it
    tag = TEMPLATE.parameters["ImageTag"]
    condition = TEMPLATE.conditions["ImagesPushed"]

    # Then "none" is the default and means no image, and every service starts with no task then
    assert tag["Default"] == "none"
    assert condition == {"Fn::Not": [{"Fn::Equals": [{"Ref": "ImageTag"}, "none"]}]}
    assert SERVICES
    for service in SERVICES:
        desired = TEMPLATE.get(service).properties["DesiredCount"]
        assert desired == {"Fn::If": ["ImagesPushed", 1, 0]}, service


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_scales_and_stays_still_until_images_are_pushed(service: str):
    # Given a service's scalable target / When its capacity and suspension are read
    props = scalable_target(service).properties
    suspended = props["SuspendedState"]

    # Then it scales the service's desired count, only once images exist
    assert props["ScalableDimension"] == "ecs:service:DesiredCount"
    assert "Cluster" in references(props["ResourceId"])
    for key in ("DynamicScalingInSuspended", "DynamicScalingOutSuspended"):
        assert suspended[key] == {"Fn::If": ["ImagesPushed", False, True]}
    assert policies_of(scalable_target(service)), f"{service} has no scaling policy"


@pytest.mark.parametrize("n", [1, 2, 3])
def test_an_algorithm_worker_scales_on_its_backlog_per_task_and_from_zero(n: int):
    # Given a worker service, its request queue and its scaling policies
    scalable = scalable_target(f"Processing{n}Service")
    queue = f"Processing{n}RequestQueue"
    policies = {p.properties["PolicyType"]: p for p in policies_of(scalable)}

    # When the target tracking metric and the scale-from-zero alarm are read
    tracking = policies["TargetTrackingScaling"].properties
    metrics = tracking["TargetTrackingScalingPolicyConfiguration"]["CustomizedMetricSpecification"]
    [returned] = [m for m in metrics["Metrics"] if m.get("ReturnData")]
    step = policies["StepScaling"]
    [alarm] = [
        a
        for a in of_type("AWS::CloudWatch::Alarm")
        if step.logical_id in references(a.properties.get("AlarmActions", []))
    ]

    # Then it may reach zero, divides the queue's backlog by its running tasks, and one waiting
    # job starts a task when none runs (target tracking cannot leave zero)
    assert scalable.properties["MinCapacity"] == 0
    assert queue in references(metrics["Metrics"])
    assert "/ running" in returned["Expression"]
    assert queue in references(alarm.properties["Metrics"])
    assert alarm.properties["Threshold"] == 1
    assert step.properties["StepScalingPolicyConfiguration"]["AdjustmentType"] == "ExactCapacity"


def test_the_yolo_service_scales_on_cpu_and_iterator_age_up_to_one_task_per_shard():
    # Given the YOLO service's scaling
    scalable = scalable_target("YoloStreamService")
    policies = policies_of(scalable)
    stream = TEMPLATE.get("VideoFrameStream").properties

    # When its policies and the alarms that drive them are read
    predefined = [
        p.properties["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]
        for p in policies
        if p.properties["PolicyType"] == "TargetTrackingScaling"
    ]
    lag_alarms = [
        a
        for a in alarms_on("GetRecords.IteratorAgeMilliseconds", "VideoFrameStream")
        if {p.logical_id for p in policies} & references(a.properties["AlarmActions"])
    ]

    # Then CPU and stream lag both scale it, between one task and the stream's shard count
    assert predefined == [{"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}]
    assert lag_alarms
    assert scalable.properties["MaxCapacity"] == stream["ShardCount"]
    assert scalable.properties["MinCapacity"] == {"Fn::If": ["ImagesPushed", 1, 0]}


def test_the_pacs_api_keeps_one_task_and_scales_on_cpu():
    # Given the PACS API's scaling / When its minimum and policy are read
    scalable = scalable_target("PacsApiService")
    [policy] = policies_of(scalable)
    config = policy.properties["TargetTrackingScalingPolicyConfiguration"]

    # Then one task always serves (once images exist) and CPU adds more
    assert scalable.properties["MinCapacity"] == {"Fn::If": ["ImagesPushed", 1, 0]}
    assert config["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
        "ECSServiceAverageCPUUtilization"
    )


def test_every_alarm_either_notifies_the_alarm_topic_or_drives_scaling():
    # Given every alarm / When its actions are read
    kinds = {r.logical_id: r.type for r in TEMPLATE.resources.values()}
    wrong = [
        a.logical_id
        for a in of_type("AWS::CloudWatch::Alarm")
        if not notifies_operators(a)
        and {kinds.get(t) for t in references(a.properties.get("AlarmActions", []))}
        != {SCALING_ALARM_ACTIONS}
    ]

    # Then none acts on nothing
    assert not wrong, f"alarms with no or mixed actions: {wrong}"


@pytest.mark.parametrize("queue", sorted(dead_letter_queues()))
def test_a_message_in_any_dead_letter_queue_raises_an_alarm(queue: str):
    # Given a dead-letter queue / When the alarms on its visible messages are read
    alarms = [a for a in alarms_on("ApproximateNumberOfMessagesVisible", queue)]

    # Then one fires on the first message and notifies the operators
    assert any(
        a.properties["Threshold"] == 0
        and a.properties["ComparisonOperator"] == "GreaterThanThreshold"
        and notifies_operators(a)
        for a in alarms
    ), f"no alarm on {queue} depth > 0"


@pytest.mark.parametrize(
    "queue",
    [
        "Processing1RequestQueue",
        "Processing2RequestQueue",
        "Processing3RequestQueue",
        "ResultsQueue",
        "ImageProcessingQueue",
        "VideoProcessingQueue",
    ],
)
def test_the_age_of_the_oldest_message_is_watched(queue: str):
    # Given a queue with a consumer / When its age alarms are read
    alarms = alarms_on("ApproximateAgeOfOldestMessage", queue)

    # Then one notifies the operators before messages expire
    retention = int(TEMPLATE.get(queue).properties.get("MessageRetentionPeriod", 345600))
    assert any(
        notifies_operators(a) and mapped(a.properties["Threshold"]) < retention for a in alarms
    )


def mapped(value: Any) -> Any:
    """A value, or what its ``Fn::FindInMap`` (with literal keys) finds in the template."""
    if isinstance(value, dict) and set(value) == {"Fn::FindInMap"}:
        name, key, attribute = value["Fn::FindInMap"]
        return TEMPLATE.mappings[name][key][attribute]
    return value


def test_stream_lag_push_failures_and_failed_executions_raise_alarms():
    # Given what ResultPushFunction's Powertools metrics are named after
    push = TEMPLATE.get("ResultPushFunction").properties["Environment"]["Variables"]
    [push_alarm] = [a for a in of_type("AWS::CloudWatch::Alarm") if a.logical_id.startswith("Push")]

    # When the alarms are read
    lag = [a for a in alarms_on("GetRecords.IteratorAgeMilliseconds", "VideoFrameStream")]
    machines = [m.logical_id for m in of_type("AWS::Serverless::StateMachine")]

    # Then PushFailures is watched under the EMF namespace and service dimension Powertools
    # writes, and so are the stream's lag and each state machine's failed executions
    assert push_alarm.properties["MetricName"] == "PushFailures"
    assert push_alarm.properties["Namespace"] == push["POWERTOOLS_METRICS_NAMESPACE"]
    assert push_alarm.properties["Dimensions"] == [
        {"Name": "service", "Value": push["POWERTOOLS_SERVICE_NAME"]}
    ]
    assert any(notifies_operators(a) for a in lag)
    for machine in machines:
        assert any(notifies_operators(a) for a in alarms_on("ExecutionsFailed", machine)), machine


def test_the_alarm_topic_emails_only_when_an_address_is_given():
    # Given the alarm topic / When its subscription is read
    subscription = TEMPLATE.get("AlarmTopic").properties["Subscription"]

    # Then it depends on the AlarmEmail condition
    assert subscription["Fn::If"][0] == "HasAlarmEmail"
    assert TEMPLATE.conditions["HasAlarmEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]
    }


def test_the_dashboard_is_valid_json_and_shows_every_dead_letter_queue():
    # Given the dashboard body with its substitutions filled in
    body = TEMPLATE.get("Dashboard").properties["DashboardBody"]["Fn::Sub"]
    named = {m.split(".")[0] for m in re.findall(r"\$\{([^}]+)\}", body)}
    document = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))

    # Then CloudWatch can read it, each widget has its region, and every DLQ is on it
    assert document["widgets"]
    assert all(w["properties"]["region"] == "x" for w in document["widgets"])
    assert dead_letter_queues() <= named
    assert named - {"AWS::Region", "AWS::StackName"} <= set(TEMPLATE.resources)


def test_every_endpoint_bucket_queue_stream_table_and_state_machine_is_an_output():
    # Given the resources a client or an operator needs
    needed = [
        r.logical_id
        for r in of_type(
            "AWS::S3::Bucket",
            "AWS::SQS::Queue",
            "AWS::Kinesis::Stream",
            "AWS::DynamoDB::Table",
            "AWS::Serverless::StateMachine",
            "AWS::Serverless::Api",
            "AWS::ApiGatewayV2::Api",
            "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "AWS::SNS::Topic",
        )
    ]

    # When the outputs' values are read
    named = set().union(*(references(o["Value"]) for o in TEMPLATE.outputs.values()))

    # Then each one is named by an output, and no published output name went away
    assert not set(needed) - named, f"no output for: {sorted(set(needed) - named)}"
    assert set(TEMPLATE.outputs) >= PUBLISHED_OUTPUTS


def _dockerfile_env(path: Path, name: str) -> str:
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    [value] = re.findall(rf"\b{name}=(\S+)", text)
    return value


def test_the_yolo_model_default_is_where_the_image_bakes_its_model():
    # Given the YOLO image's Dockerfile and the template's default model path
    dockerfile = ROOT / "containers" / "yolo_stream" / "Dockerfile"
    baked = _dockerfile_env(dockerfile, "YOLO_MODEL")
    copied_to = re.findall(r"^COPY --from=export \S+ (\S+)$", dockerfile.read_text(), re.M)

    # Then the task definition's YOLO_MODEL points at the file the image carries
    assert TEMPLATE.parameters["YoloModelPath"]["Default"] == baked
    assert any(baked.startswith(folder.rstrip("/") + "/") for folder in copied_to)


def test_the_grayscale_task_writes_the_sidecar_the_image_status_function_reads():
    # Given the grayscale container's and ImageStatusFunction's settings
    [container] = TEMPLATE.get("GrayscaleTaskDefinition").properties["ContainerDefinitions"]
    task_env = {e["Name"]: e["Value"] for e in container["Environment"]}
    status_env = TEMPLATE.get("ImageStatusFunction").properties["Environment"]["Variables"]

    # Then both use the same prefix in the same bucket
    assert task_env["RESULT_SIDECAR_PREFIX"] == status_env["RESULT_SIDECAR_PREFIX"] == "results/"
    assert target(task_env["OUTPUT_BUCKET"]) == target(status_env["IMAGE_OUTPUT_BUCKET"])
