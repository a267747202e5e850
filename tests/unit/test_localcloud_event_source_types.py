"""Which SAM event types the local cloud drives: every type it runs is in one registry, and any
other type, or a schedule it cannot keep, is refused by name before anything is created."""

from __future__ import annotations

import pytest

from localcloud.event_sources import EVENT_SOURCES, refusal


def test_the_registry_lists_every_event_type_the_local_cloud_runs():
    assert set(EVENT_SOURCES) == {"S3", "SQS", "Kinesis", "DynamoDB", "Api", "SNS", "Schedule"}


@pytest.mark.parametrize(
    "event",
    [
        {"Type": "SQS", "Properties": {"Queue": {"Fn::GetAtt": ["Queue", "Arn"]}}},
        {"Type": "Schedule", "Properties": {"Schedule": "rate(5 minutes)"}},
        {"Type": "Api", "Properties": {"Path": "/jobs", "Method": "post"}},
    ],
)
def test_an_event_the_local_cloud_drives_is_not_refused(event):
    assert refusal(event) is None


@pytest.mark.parametrize(
    ("event", "why"),
    [
        ({"Type": "EventBridgeRule", "Properties": {}}, "EventBridgeRule"),
        ({"Type": "CloudWatchLogs"}, "CloudWatchLogs"),
        ({"Properties": {}}, "None"),
        (
            {"Type": "Schedule", "Properties": {"Schedule": "cron(0 12 * * ? *)"}},
            "Schedule other than rate()",
        ),
        ({"Type": "Schedule"}, "Schedule other than rate()"),
    ],
)
def test_an_event_the_local_cloud_cannot_drive_is_refused_with_its_type(event, why):
    assert refusal(event) == why
