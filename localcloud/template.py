"""Reading template.yaml: CloudFormation short-form tags, SAM Globals, resources by type."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from localcloud import language_extensions
from localcloud.errors import TemplateError

_SHORT_FORMS = {
    "Ref": "Ref",
    "GetAtt": "Fn::GetAtt",
    "Sub": "Fn::Sub",
    "Join": "Fn::Join",
    "Select": "Fn::Select",
    "Split": "Fn::Split",
    "If": "Fn::If",
    "Equals": "Fn::Equals",
    "Not": "Fn::Not",
    "And": "Fn::And",
    "Or": "Fn::Or",
    "FindInMap": "Fn::FindInMap",
    "GetAZs": "Fn::GetAZs",
    "Base64": "Fn::Base64",
    "ImportValue": "Fn::ImportValue",
    "Condition": "Condition",
    "Cidr": "Fn::Cidr",
    "ToJsonString": "Fn::ToJsonString",
}


class _TemplateLoader(yaml.SafeLoader):
    """A SafeLoader that turns ``!Ref X`` into ``{"Ref": "X"}`` and so on."""


def _construct(tag: str) -> Any:
    long_name = _SHORT_FORMS[tag]

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {long_name: value}

    return construct


for _tag in _SHORT_FORMS:
    _TemplateLoader.add_constructor(f"!{_tag}", _construct(_tag))


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        document = yaml.load(path.read_text(), Loader=_TemplateLoader)  # noqa: S506 (SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or "Resources" not in document:
        raise TemplateError(f"{path}: not a CloudFormation/SAM template (no Resources)")
    # AWS::LanguageExtensions runs first: every reader sees the resources its loops make.
    return language_extensions.expand(document)


@dataclass(frozen=True)
class Resource:
    logical_id: str
    type: str
    properties: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    condition: str | None = None


@dataclass
class Template:
    """A parsed SAM template with ``Globals`` already merged into each serverless resource."""

    path: Path
    document: dict[str, Any]
    resources: dict[str, Resource]

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.document.get("Parameters") or {})

    @property
    def conditions(self) -> dict[str, Any]:
        return dict(self.document.get("Conditions") or {})

    @property
    def mappings(self) -> dict[str, Any]:
        return dict(self.document.get("Mappings") or {})

    @property
    def outputs(self) -> dict[str, Any]:
        return dict(self.document.get("Outputs") or {})

    def of_type(self, *types: str) -> Iterator[Resource]:
        for resource in self.resources.values():
            if resource.type in types:
                yield resource

    def get(self, logical_id: str) -> Resource:
        try:
            return self.resources[logical_id]
        except KeyError:
            raise TemplateError(f"no resource named {logical_id!r} in {self.path}") from None


_GLOBAL_SECTIONS = {
    "AWS::Serverless::Function": "Function",
    "AWS::Serverless::Api": "Api",
    "AWS::Serverless::HttpApi": "HttpApi",
    "AWS::Serverless::SimpleTable": "SimpleTable",
    "AWS::Serverless::StateMachine": "StateMachine",
    "AWS::Serverless::LayerVersion": "LayerVersion",
}


def _merge_globals(global_props: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    """SAM's rule: maps merge (resource wins), lists concatenate, scalars are overridden."""
    merged = dict(global_props)
    for key, value in props.items():
        if key in merged and isinstance(merged[key], dict) and isinstance(value, dict):
            merged[key] = _merge_globals(merged[key], value)
        elif key in merged and isinstance(merged[key], list) and isinstance(value, list):
            merged[key] = [*merged[key], *value]
        else:
            merged[key] = value
    return merged


def load_template(path: Path) -> Template:
    path = path.resolve()
    document = load_yaml(path)
    global_sections = document.get("Globals") or {}
    resources: dict[str, Resource] = {}
    for logical_id, body in (document.get("Resources") or {}).items():
        if not isinstance(body, dict) or "Type" not in body:
            raise TemplateError(f"resource {logical_id} has no Type")
        rtype = body["Type"]
        props = dict(body.get("Properties") or {})
        section = _GLOBAL_SECTIONS.get(rtype)
        if section and section in global_sections:
            props = _merge_globals(global_sections[section], props)
        depends = body.get("DependsOn") or ()
        resources[logical_id] = Resource(
            logical_id=logical_id,
            type=rtype,
            properties=props,
            metadata=dict(body.get("Metadata") or {}),
            depends_on=(depends,) if isinstance(depends, str) else tuple(depends),
            condition=body.get("Condition"),
        )
    return Template(path=path, document=document, resources=resources)
