"""The YOLO GPU option's wiring: off by default, and when on, the service runs on a capacity
provider of GPU instances (GPU-optimised AMI from SSM) and its container asks for a GPU."""

from __future__ import annotations

from tests.unit.test_template_policies import TEMPLATE, target

GPU_RESOURCES = (
    "YoloGpuInstanceRole",
    "YoloGpuInstanceProfile",
    "YoloGpuLaunchTemplate",
    "YoloGpuAutoScalingGroup",
    "YoloGpuCapacityProvider",
    "YoloGpuClusterCapacityProviders",
)


def props(logical_id: str) -> dict:
    return TEMPLATE.resources[logical_id].properties


def test_gpu_is_off_by_default_and_every_gpu_resource_is_conditional():
    assert TEMPLATE.parameters["YoloGpu"]["Default"] == "false"
    assert TEMPLATE.conditions["YoloOnGpu"] == {"Fn::Equals": [{"Ref": "YoloGpu"}, "true"]}
    for logical_id in GPU_RESOURCES:
        assert TEMPLATE.resources[logical_id].condition == "YoloOnGpu", logical_id


def test_gpu_instances_use_the_ecs_gpu_ami_and_join_the_cluster():
    ami = TEMPLATE.parameters["EcsGpuAmiId"]
    assert ami["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
    assert "/ecs/optimized-ami/" in ami["Default"]
    assert "/gpu/" in ami["Default"]
    data = props("YoloGpuLaunchTemplate")["LaunchTemplateData"]
    assert target(data["ImageId"]) == "EcsGpuAmiId"
    user_data = data["UserData"]["Fn::Base64"]["Fn::Sub"]
    assert "ECS_CLUSTER=${Cluster}" in user_data
    assert "ECS_ENABLE_GPU_SUPPORT=true" in user_data
    asg = props("YoloGpuAutoScalingGroup")
    assert target(asg["LaunchTemplate"]["LaunchTemplateId"]) == "YoloGpuLaunchTemplate"
    provider = props("YoloGpuCapacityProvider")["AutoScalingGroupProvider"]
    assert target(provider["AutoScalingGroupArn"]) == "YoloGpuAutoScalingGroup"
    association = props("YoloGpuClusterCapacityProviders")
    assert target(association["Cluster"]) == "Cluster"
    assert {"Ref": "YoloGpuCapacityProvider"} in association["CapacityProviders"]


def test_service_and_task_switch_to_the_gpu_provider_under_the_condition():
    service = props("YoloStreamService")
    strategy = service["CapacityProviderStrategy"]["Fn::If"]
    assert strategy[0] == "YoloOnGpu"
    assert target(strategy[1][0]["CapacityProvider"]) == "YoloGpuCapacityProvider"
    assert service["LaunchType"]["Fn::If"] == ["YoloOnGpu", {"Ref": "AWS::NoValue"}, "FARGATE"]
    task = props("YoloStreamTaskDefinition")
    assert task["RequiresCompatibilities"]["Fn::If"] == ["YoloOnGpu", ["EC2"], ["FARGATE"]]
    container = task["ContainerDefinitions"][0]
    gpu = container["ResourceRequirements"]["Fn::If"]
    assert gpu[0] == "YoloOnGpu"
    assert gpu[1] == [{"Type": "GPU", "Value": "1"}]
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert env["YOLO_PROVIDER"] == {"Fn::If": ["YoloOnGpu", "cuda", "auto"]}
    assert env["YOLO_BACKEND"] == {"Ref": "YoloBackend"}


def test_cluster_names_its_providers_only_without_the_association():
    providers = props("Cluster")["CapacityProviders"]["Fn::If"]
    assert providers == ["YoloOnGpu", {"Ref": "AWS::NoValue"}, ["FARGATE", "FARGATE_SPOT"]]
