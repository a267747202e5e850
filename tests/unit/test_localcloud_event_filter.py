"""The local cloud's Lambda event filtering (``FilterCriteria``), checked on DynamoDB stream records
against the rules Lambda documents; an operator it does not evaluate stops ``up`` by name."""

from __future__ import annotations

import json
from typing import Any

import pytest

from localcloud.errors import UnsupportedError
from localcloud.event_filter import EventFilter, matches
from tests.support.api_aws import load_event

REMOVE: dict[str, Any] = load_event("client_reaper_expired")["Records"][0]
INSERT: dict[str, Any] = {
    "eventName": "INSERT",
    "eventSource": "aws:dynamodb",
    "dynamodb": {
        "Keys": {"client_id": {"S": "abc"}},
        "NewImage": {"delivery": {"S": "push"}, "ttl": {"N": "1770801332"}},
        "SizeBytes": 120,
    },
    "tags": ["a", "b"],
    "flag": None,
}


def criteria(*patterns: Any) -> EventFilter:
    return EventFilter.from_criteria(
        {"Filters": [{"Pattern": p if isinstance(p, str) else json.dumps(p)} for p in patterns]}
    )


def test_the_reapers_pattern_passes_removals_only():
    # Given the template's filter for ClientReaperFunction
    only_removals = criteria('{"eventName": ["REMOVE"]}')

    # Then a REMOVE passes and an INSERT does not
    assert only_removals.matches(REMOVE)
    assert not only_removals.matches(INSERT)


def test_no_criteria_pass_everything_and_several_patterns_are_alternatives():
    # Given no filter, and two patterns
    either = criteria(
        {"eventName": ["REMOVE"]}, {"dynamodb": {"Keys": {"client_id": {"S": ["abc"]}}}}
    )

    # Then everything passes the first, and a record passes the second if it matches either
    assert EventFilter.from_criteria(None).matches(INSERT)
    assert either.matches(REMOVE)
    assert either.matches(INSERT)
    assert not either.matches({**INSERT, "dynamodb": {"Keys": {"client_id": {"S": "zzz"}}}})


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"eventName": ["INSERT", "MODIFY"]}, True),
        ({"eventName": ["REMOVE"]}, False),
        ({"eventName": [{"prefix": "INS"}]}, True),
        ({"eventName": [{"suffix": "ERT"}]}, True),
        ({"eventName": [{"equals-ignore-case": "insert"}]}, True),
        ({"eventName": [{"anything-but": ["REMOVE"]}]}, True),
        ({"eventName": [{"anything-but": "INSERT"}]}, False),
        ({"eventName": [{"anything-but": {"prefix": "IN"}}]}, False),
        ({"dynamodb": {"SizeBytes": [{"numeric": [">", 100, "<=", 120]}]}}, True),
        ({"dynamodb": {"SizeBytes": [{"numeric": ["<", 100]}]}}, False),
        ({"dynamodb": {"SizeBytes": [120]}}, True),
        ({"dynamodb": {"NewImage": {"delivery": {"S": ["push"]}}}}, True),
        ({"dynamodb": {"OldImage": [{"exists": False}]}}, True),
        ({"dynamodb": {"OldImage": [{"exists": True}]}}, False),
        ({"dynamodb": {"NewImage": {"queue_url": [{"exists": True}]}}}, False),
        ({"tags": ["b"]}, True),
        ({"flag": [None]}, True),
        ({"missing": [None]}, False),
        ({"$or": [{"eventName": ["REMOVE"]}, {"tags": ["a"]}]}, True),
        ({"eventName": ["INSERT"], "tags": ["zzz"]}, False),
    ],
)
def test_each_documented_condition_matches_as_lambda_does(pattern, expected):
    # Given a record and a pattern / When it is matched / Then the outcome is Lambda's
    assert matches(pattern, INSERT) is expected


@pytest.mark.parametrize(
    "pattern",
    [
        '{"eventName": ["REMOVE"',
        '["REMOVE"]',
        '{"eventName": "REMOVE"}',
        '{"eventName": [{"wildcard": "RE*"}]}',
        '{"dynamodb": {"SizeBytes": [{"numeric": [">"]}]}}',
    ],
)
def test_a_pattern_the_local_cloud_cannot_evaluate_is_refused_at_start(pattern):
    # Given a malformed pattern or an unsupported operator / When it is compiled
    with pytest.raises(UnsupportedError) as refused:
        EventFilter.from_criteria({"Filters": [{"Pattern": pattern}]}, where="Fn.Event")

    # Then the error names where it is
    assert "Fn.Event" in str(refused.value)
