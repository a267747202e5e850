"""Run in a fresh interpreter by tests/unit/test_moto_patches.py: what moto does where the local
cloud patches it, printed as JSON. ``python -m tests.support.moto_probe unpatched|patched``.

Each probe is one of the AWS behaviours a patch restores. Unpatched, each shows moto's bug; when
moto fixes one, the test says which patch to drop.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from localcloud.moto_fingerprints import PATCHED, fingerprint


def probe() -> dict[str, Any]:
    import boto3
    from moto import mock_aws
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface
    from moto.ecs import models as ecs_models
    from moto.stepfunctions.parser.asl.utils import json_path

    out: dict[str, Any] = {}
    out["definite_path"] = json_path.extract_json(
        "$.Containers[0].ExitCode", {"Containers": [{"ExitCode": 1}]}
    )
    out["eni_has_private_dns_name"] = hasattr(NetworkInterface, "private_dns_name")

    class FargateTaskDefinition:
        container_definitions = [{"name": "task", "cpu": 256}]  # memory: the task's

    try:
        ecs_models.EC2ContainerServiceBackend._calculate_task_resource_requirements(
            FargateTaskDefinition()
        )
        out["fargate_without_container_memory"] = "accepted"
    except TypeError:
        out["fargate_without_container_memory"] = "TypeError"
    out["cognito_operations_needing_sigv4"] = [
        op
        for op in ("RespondToAuthChallenge", "RevokeToken", "GlobalSignOut", "ChangePassword")
        if f"AWSCognitoIdentityProviderService.{op}"
        not in ActionAuthenticatorMixin.PUBLIC_OPERATIONS
    ]
    out["responses_without_a_resource"] = _responses_without_a_resource()
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        fifo = sqs.create_queue(QueueName="probe.fifo", Attributes={"FifoQueue": "true"})
        url = fifo["QueueUrl"]
        message = {"MessageBody": "m", "MessageGroupId": "g", "MessageDeduplicationId": "d"}
        sqs.send_message(QueueUrl=url, **message)
        first = sqs.receive_message(QueueUrl=url)["Messages"][0]
        sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
        sqs.send_message(QueueUrl=url, **message)  # same deduplication id, seconds later
        out["fifo_duplicate_after_delete"] = len(
            sqs.receive_message(QueueUrl=url).get("Messages", [])
        )

        notified = sqs.create_queue(QueueName="probe-notified")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=notified, AttributeNames=["QueueArn"])
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="probe-bucket")
        s3.put_bucket_versioning(
            Bucket="probe-bucket", VersioningConfiguration={"Status": "Enabled"}
        )
        s3.put_bucket_notification_configuration(
            Bucket="probe-bucket",
            NotificationConfiguration={
                "QueueConfigurations": [
                    {"QueueArn": arn["Attributes"]["QueueArn"], "Events": ["s3:ObjectCreated:*"]}
                ]
            },
        )
        s3.put_object(Bucket="probe-bucket", Key="in/a b.jpg", Body=b"x")
        bodies = sqs.receive_message(QueueUrl=notified, MaxNumberOfMessages=10)["Messages"]
        records = [r for m in bodies for r in json.loads(m["Body"]).get("Records", [])]
        out["s3_record_object"] = records[0]["s3"]["object"]
        out["count_queries"] = _count_queries()
    return out


def _count_queries() -> dict[str, Any]:
    """COUNT queries on a KEYS_ONLY index (the router's rate check), with and without a filter,
    and how many attribute values moto deep-copied to answer the unfiltered one."""
    import boto3
    from moto.dynamodb.models.dynamo_type import DynamoType

    db = boto3.client("dynamodb", region_name="us-east-1")
    keys = [("job_id", "S"), ("owner", "S"), ("created_at", "S")]
    db.create_table(
        TableName="probe-jobs",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in keys],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "owner-index",
                "KeySchema": [
                    {"AttributeName": "owner", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )
    for n in range(30):
        db.put_item(
            TableName="probe-jobs",
            Item={
                "job_id": {"S": f"j{n:02}"},
                "owner": {"S": "alice" if n % 3 else "bob"},
                "created_at": {"S": f"2026-12-07T00:00:{n:02}Z"},
                "request": {"M": {"series": {"S": "1.2.3"}, "params": {"L": [{"N": "1"}] * 20}}},
            },
        )
    count = {
        "TableName": "probe-jobs",
        "IndexName": "owner-index",
        "Select": "COUNT",
        "KeyConditionExpression": "#o = :o AND created_at > :since",
        "ExpressionAttributeNames": {"#o": "owner"},
        "ExpressionAttributeValues": {
            ":o": {"S": "alice"},
            ":since": {"S": "2026-12-07T00:00:09Z"},
        },
    }
    copies = 0
    deepcopy = DynamoType.__deepcopy__

    def counted(self: Any, memo: dict[int, Any]) -> Any:
        nonlocal copies
        copies += 1
        return deepcopy(self, memo)

    DynamoType.__deepcopy__ = counted  # type: ignore[method-assign]
    try:
        unfiltered = db.query(**count)["Count"]
    finally:
        DynamoType.__deepcopy__ = deepcopy  # type: ignore[method-assign]
    values = {**count["ExpressionAttributeValues"], ":j": {"S": "j20"}}
    filtered = db.query(
        **{**count, "ExpressionAttributeValues": values}, FilterExpression="job_id > :j"
    )
    items = db.query(**{k: v for k, v in count.items() if k != "Select"})["Items"]
    return {
        "count": unfiltered,
        "copied_values": copies,
        "filtered_count": filtered["Count"],
        "items": sorted(item["job_id"]["S"] for item in items),
        "item_attributes": sorted({name for item in items for name in item}),
    }


def _responses_without_a_resource() -> list[str]:
    """moto's response classes that authorize every call against '*' (no own resource)."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.ecs.responses import EC2ContainerServiceResponse
    from moto.kinesis.responses import KinesisResponse
    from moto.secretsmanager.responses import SecretsManagerResponse
    from moto.sns.responses import SNSResponse
    from moto.stepfunctions.responses import StepFunctionResponse

    classes = (
        DynamoHandler,
        EC2ContainerServiceResponse,
        KinesisResponse,
        SecretsManagerResponse,
        SNSResponse,
        StepFunctionResponse,
    )
    return [
        cls.__name__
        for cls in classes
        if not any("_determine_resource" in vars(base) for base in cls.__mro__)
    ]


def main(mode: str) -> None:
    if mode == "fingerprints":
        print(json.dumps({entry.target: fingerprint(entry.target) for entry in PATCHED}))
        return
    if mode == "patched":
        from localcloud import iam, moto_patches

        moto_patches.apply()
        iam.patch_moto()
    print(json.dumps(probe(), default=str))


if __name__ == "__main__":
    main(sys.argv[1])
