"""Lambda event filtering (an event source mapping's ``FilterCriteria``), as Lambda applies it.

``FilterCriteria: {Filters: [{Pattern: '<JSON>'}, ...]}``: a record is passed to the function when
it matches at least one pattern (at most 5 on AWS); records that match none are dropped (for a
stream they count as processed, and a batch left empty invokes nothing). A pattern is matched
against the record as Lambda shows it to the function (for DynamoDB streams ``eventName``,
``dynamodb.Keys``, ``dynamodb.NewImage``...): every key of the pattern must match (AND), a
nested object descends into the record, and a leaf is a list of conditions of which one must
match (OR). A record field that is a list matches when any element does.

Conditions supported (Lambda's filter rule syntax): a string, number or ``null`` for equality,
``{"prefix": s}``, ``{"suffix": s}``, ``{"equals-ignore-case": s}``, ``{"anything-but": v or
[v, ...]}`` (also ``{"anything-but": {"prefix": s}}``), ``{"numeric": [">", 0, "<=", 5]}``,
``{"exists": true|false}``, and ``"$or": [pattern, ...]`` at any level. Anything else (e.g.
EventBridge's ``cidr`` or ``wildcard``, which Lambda does not take either) is refused when the
local cloud starts, naming the pattern.

Not applied locally: decoding of SQS ``body`` and Kinesis ``data`` as JSON (the local SQS and
Kinesis pollers do not filter; only the DynamoDB stream poller does).
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Sequence
from typing import Any

from localcloud.errors import UnsupportedError

_MISSING = object()
_NUMERIC: dict[str, Callable[[float, float], bool]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_OPERATORS = {"prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists"}


class EventFilter:
    """The compiled ``FilterCriteria`` of one event source: ``filter.matches(record)``."""

    def __init__(self, patterns: Sequence[dict[str, Any]]) -> None:
        self.patterns = list(patterns)

    @classmethod
    def from_criteria(cls, criteria: dict[str, Any] | None, *, where: str = "") -> EventFilter:
        """From a template's ``FilterCriteria`` (each ``Pattern`` a JSON string, or an object)."""
        patterns = []
        for entry in (criteria or {}).get("Filters") or []:
            raw = entry.get("Pattern") if isinstance(entry, dict) else None
            try:
                pattern = json.loads(raw) if isinstance(raw, str) else raw
            except json.JSONDecodeError as exc:
                raise UnsupportedError(f"{where}: a FilterCriteria Pattern is no JSON") from exc
            if not isinstance(pattern, dict):
                raise UnsupportedError(f"{where}: FilterCriteria Pattern must be a JSON object")
            validate_pattern(pattern, where=where)
            patterns.append(pattern)
        return cls(patterns)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, record: Any) -> bool:
        """True when there is no filter, or when ``record`` matches any pattern."""
        return not self.patterns or any(matches(p, record) for p in self.patterns)


def validate_pattern(pattern: dict[str, Any], *, where: str = "") -> None:
    """Refuse a pattern this emulation would not evaluate as Lambda does."""
    for key, condition in pattern.items():
        if key == "$or":
            if not isinstance(condition, list) or not all(isinstance(p, dict) for p in condition):
                raise UnsupportedError(f"{where}: $or takes a list of patterns")
            for alternative in condition:
                validate_pattern(alternative, where=where)
        elif isinstance(condition, dict):
            validate_pattern(condition, where=where)
        elif isinstance(condition, list):
            for rule in condition:
                _validate_rule(rule, where=f"{where}: {key}")
        else:
            raise UnsupportedError(
                f"{where}: filter value of {key!r} must be a list of conditions or an object"
            )


def _validate_rule(rule: Any, *, where: str) -> None:
    if rule is None or isinstance(rule, str | int | float | bool):
        return
    if not isinstance(rule, dict) or len(rule) != 1:
        raise UnsupportedError(f"{where}: unsupported filter condition {rule!r}")
    [(name, argument)] = rule.items()
    if name not in _OPERATORS:
        raise UnsupportedError(
            f"{where}: filter operator {name!r} is not supported (supported: {sorted(_OPERATORS)})"
        )
    if name == "numeric":
        pairs = list(argument) if isinstance(argument, list) else []
        if not pairs or len(pairs) % 2:
            raise UnsupportedError(f"{where}: numeric takes [op, value, ...] pairs")
        for op, value in zip(pairs[::2], pairs[1::2], strict=True):
            if op not in _NUMERIC or not isinstance(value, int | float):
                raise UnsupportedError(f"{where}: numeric condition {op!r} {value!r}")
    elif name == "exists" and not isinstance(argument, bool):
        raise UnsupportedError(f"{where}: exists takes true or false")
    elif (
        name == "anything-but"
        and isinstance(argument, dict)
        and set(argument) - {"prefix", "suffix", "equals-ignore-case"}
    ):
        raise UnsupportedError(f"{where}: anything-but {argument!r}")


def matches(pattern: dict[str, Any], data: Any) -> bool:
    """Whether ``data`` (a record, or a part of one) matches ``pattern``."""
    for key, condition in pattern.items():
        if key == "$or":
            if not any(matches(alternative, data) for alternative in condition):
                return False
            continue
        value = data.get(key, _MISSING) if isinstance(data, dict) else _MISSING
        if isinstance(condition, dict):
            candidates = value if isinstance(value, list) else [value]
            if value is _MISSING or not any(matches(condition, c) for c in candidates):
                return False
        elif not any(_rule_matches(rule, value) for rule in condition):
            return False
    return True


def _rule_matches(rule: Any, value: Any) -> bool:
    if isinstance(rule, dict) and "exists" in rule:
        return (value is not _MISSING) is rule["exists"]
    if value is _MISSING:
        return False
    candidates = value if isinstance(value, list) else [value]
    return any(_one_matches(rule, candidate) for candidate in candidates)


def _one_matches(rule: Any, value: Any) -> bool:
    if not isinstance(rule, dict):
        return _equal(rule, value)
    [(name, argument)] = rule.items()
    if name == "prefix":
        return isinstance(value, str) and value.startswith(argument)
    if name == "suffix":
        return isinstance(value, str) and value.endswith(argument)
    if name == "equals-ignore-case":
        return isinstance(value, str) and value.casefold() == str(argument).casefold()
    if name == "anything-but":
        if isinstance(argument, dict):
            return not _one_matches(argument, value)
        excluded = argument if isinstance(argument, list) else [argument]
        return not any(_equal(e, value) for e in excluded)
    if name == "numeric":
        if not _is_number(value):
            return False
        pairs = zip(argument[::2], argument[1::2], strict=True)
        return all(_NUMERIC[op](float(value), float(bound)) for op, bound in pairs)
    return False


def _equal(expected: Any, value: Any) -> bool:
    if expected is None or isinstance(expected, bool):
        return value is expected
    if _is_number(expected):
        return _is_number(value) and float(value) == float(expected)
    return isinstance(value, str) and value == expected


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
