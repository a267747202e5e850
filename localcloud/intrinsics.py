"""Resolving CloudFormation intrinsic functions against the local resources.

Each provisioned resource registers its ``Ref`` value and attributes; ``resolve`` then walks any
property value and replaces ``Ref``/``Fn::GetAtt``/``Fn::Sub``/... with concrete strings, exactly
as CloudFormation would for a deployed stack (with local names, URLs and ARNs).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from localcloud.errors import TemplateError, UnsupportedError

NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class Resolver:
    def __init__(
        self,
        *,
        region: str,
        account_id: str,
        stack_name: str,
        parameters: dict[str, str],
        conditions: dict[str, Any],
        mappings: dict[str, Any],
    ) -> None:
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::StackName": stack_name,
            "AWS::StackId": (
                f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local"
            ),
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
        }
        self.parameters = parameters
        self.mappings = mappings
        self._condition_defs = conditions
        self._conditions: dict[str, bool] = {}
        self.refs: dict[str, Any] = {}
        self.attributes: dict[str, dict[str, Any]] = {}

    # -- registration ---------------------------------------------------------------------------
    def register(self, logical_id: str, ref: Any, **attributes: Any) -> None:
        self.refs[logical_id] = ref
        self.attributes.setdefault(logical_id, {}).update(attributes)

    def is_known(self, logical_id: str) -> bool:
        return logical_id in self.refs

    # -- conditions -----------------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            if name not in self._condition_defs:
                raise TemplateError(f"unknown condition {name!r}")
            self._conditions[name] = bool(self.resolve(self._condition_defs[name]))
        return self._conditions[name]

    # -- resolution -----------------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = _FUNCTIONS.get(key)
            if handler is not None:
                return handler(self, arg)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise TemplateError(f"Ref to {name!r}, which is neither a parameter nor a resource")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        attrs = self.attributes.get(logical_id)
        if attrs is None:
            raise TemplateError(f"GetAtt {logical_id}.{attribute}: no such resource")
        if attribute not in attrs:
            raise UnsupportedError(
                f"GetAtt {logical_id}.{attribute}: the local cloud knows "
                f"{sorted(attrs)} for this resource"
            )
        return attrs[attribute]

    def sub(self, template: str, variables: dict[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return str(self.get_att(logical_id, attribute))
            return str(self.ref(name))

        # "${!Literal}" is an escaped literal "${Literal}".
        return _SUB_VARIABLE.sub(replace, template).replace("${!", "${")


def _ref(resolver: Resolver, name: Any) -> Any:
    return resolver.ref(str(resolver.resolve(name)))


def _get_att(resolver: Resolver, arg: Any) -> Any:
    if isinstance(arg, str):
        arg = arg.split(".", 1)
    logical_id, attribute = (resolver.resolve(part) for part in arg)
    return resolver.get_att(logical_id, attribute)


def _sub(resolver: Resolver, arg: Any) -> str:
    if isinstance(arg, str):
        return resolver.sub(arg, {})
    template, variables = arg
    return resolver.sub(template, {k: resolver.resolve(v) for k, v in variables.items()})


def _join(resolver: Resolver, arg: Any) -> str:
    delimiter, items = arg
    values = resolver.resolve(items)
    return str(delimiter).join(str(v) for v in values)


def _select(resolver: Resolver, arg: Any) -> Any:
    index, items = arg
    return resolver.resolve(items)[int(resolver.resolve(index))]


def _split(resolver: Resolver, arg: Any) -> list[str]:
    delimiter, source = arg
    return str(resolver.resolve(source)).split(delimiter)


def _if(resolver: Resolver, arg: Any) -> Any:
    name, when_true, when_false = arg
    return resolver.resolve(when_true if resolver.condition(name) else when_false)


def _equals(resolver: Resolver, arg: Any) -> bool:
    left, right = (resolver.resolve(v) for v in arg)
    return str(left) == str(right)


def _not(resolver: Resolver, arg: Any) -> bool:
    return not resolver.resolve(arg[0])


def _and(resolver: Resolver, arg: Iterable[Any]) -> bool:
    return all(resolver.resolve(v) for v in arg)


def _or(resolver: Resolver, arg: Iterable[Any]) -> bool:
    return any(resolver.resolve(v) for v in arg)


def _condition(resolver: Resolver, name: Any) -> bool:
    return resolver.condition(str(name))


def _find_in_map(resolver: Resolver, arg: Any) -> Any:
    map_name, top, second = (resolver.resolve(v) for v in arg)
    try:
        return resolver.mappings[map_name][top][second]
    except KeyError:
        raise TemplateError(f"FindInMap {map_name}/{top}/{second}: not in Mappings") from None


def _get_azs(resolver: Resolver, arg: Any) -> list[str]:
    region = resolver.resolve(arg) or resolver.pseudo["AWS::Region"]
    return [f"{region}{suffix}" for suffix in "abc"]


def _cidr(resolver: Resolver, arg: Any) -> list[str]:
    import ipaddress

    block, count, host_bits = (resolver.resolve(v) for v in arg)
    network = ipaddress.ip_network(str(block), strict=False)
    prefix = network.max_prefixlen - int(host_bits)
    subnets = network.subnets(new_prefix=prefix)
    return [str(next(subnets)) for _ in range(int(count))]


def _to_json_string(resolver: Resolver, arg: Any) -> str:
    return json.dumps(resolver.resolve(arg), separators=(",", ":"))


def _unsupported(name: str) -> Any:
    def handler(resolver: Resolver, arg: Any) -> Any:
        raise UnsupportedError(f"{name} is not supported by the local cloud (single stack only)")

    return handler


_FUNCTIONS = {
    "Ref": _ref,
    "Fn::GetAtt": _get_att,
    "Fn::Sub": _sub,
    "Fn::Join": _join,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::Not": _not,
    "Fn::And": _and,
    "Fn::Or": _or,
    "Condition": _condition,
    "Fn::FindInMap": _find_in_map,
    "Fn::GetAZs": _get_azs,
    "Fn::ToJsonString": _to_json_string,
    "Fn::Cidr": _cidr,
    "Fn::ImportValue": _unsupported("Fn::ImportValue"),
    "Fn::Base64": lambda r, a: __import__("base64").b64encode(str(r.resolve(a)).encode()).decode(),
}


def references(value: Any) -> set[str]:
    """Logical ids a property value refers to (for ordering resource creation)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                parts = arg.split(".", 1) if isinstance(arg, str) else arg
                if isinstance(parts[0], str):
                    found.add(parts[0])
            elif key == "Fn::Sub":
                template = arg if isinstance(arg, str) else arg[0]
                local_vars = {} if isinstance(arg, str) else arg[1]
                for name in _SUB_VARIABLE.findall(template):
                    name = name.split(".", 1)[0].strip()
                    if name not in local_vars:
                        found.add(name)
                found |= references(local_vars)
            else:
                found |= references(arg)
    return {name for name in found if not name.startswith("AWS::")}
