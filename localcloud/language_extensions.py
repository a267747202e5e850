"""The ``AWS::LanguageExtensions`` transform's ``Fn::ForEach``, expanded as CloudFormation does,
before SAM's transform and ``Globals`` (the order the template's ``Transform`` list gives).

``Fn::ForEach::LoopName: [Identifier, Collection, {OutputKey: OutputValue}]`` may appear at the
top of ``Resources``, ``Outputs`` and ``Conditions``, at the top of a resource's ``Properties``,
and inside another loop's output (as in the SAM CLI's implementation). For each item of the
collection, the ``OutputKey: OutputValue`` fragment is copied into the mapping that held the
loop, with every ``${Identifier}`` in its keys and strings replaced by the item, every
``&{Identifier}`` by the item without its non-alphanumeric characters, and every
``{"Ref": Identifier}`` by the item itself. A ``Ref`` or ``Fn::GetAtt`` naming its resource
with an ``Fn::Sub`` that has no variable left names it directly. An inner loop is expanded once
per outer item, after the outer item is substituted, so it may use it.

The collection is a list, or a ``Ref`` to a ``CommaDelimitedList`` parameter, which takes the
parameter's ``Default`` here (the template is expanded once, when it is read). Other intrinsics
as a collection are refused. ``tests/unit/test_language_extensions.py`` compares this expansion
with the SAM CLI's own, on ``template.yaml`` and on a fixture that uses every form.
"""

from __future__ import annotations

import re
from typing import Any

from localcloud.errors import TemplateError

TRANSFORM = "AWS::LanguageExtensions"
LOOP_PREFIX = "Fn::ForEach::"
_SECTIONS = ("Conditions", "Resources", "Outputs")


def uses_language_extensions(document: dict[str, Any]) -> bool:
    transform = document.get("Transform") or []
    return TRANSFORM in ([transform] if isinstance(transform, str) else transform)


def expand(document: dict[str, Any]) -> dict[str, Any]:
    """The document with every ``Fn::ForEach`` expanded and the transform itself removed."""
    if not uses_language_extensions(document):
        return document
    parameters = document.get("Parameters") or {}
    expanded = dict(document)
    for section in _SECTIONS:
        if isinstance(document.get(section), dict):
            expanded[section] = _expand_mapping(document[section], parameters, section)
    resources = expanded.get("Resources") or {}
    for logical_id, resource in list(resources.items()):
        if isinstance(resource, dict) and isinstance(resource.get("Properties"), dict):
            properties = _expand_mapping(resource["Properties"], parameters, logical_id)
            resources[logical_id] = {**resource, "Properties": properties}
    for section in _SECTIONS:
        if section in expanded:
            expanded[section] = resolve_names(expanded[section])
    transform = document["Transform"]
    rest = [t for t in ([transform] if isinstance(transform, str) else transform) if t != TRANSFORM]
    if rest:
        expanded["Transform"] = rest[0] if len(rest) == 1 else rest
    else:
        del expanded["Transform"]
    return expanded


def _expand_mapping(
    mapping: dict[str, Any], parameters: dict[str, Any], where: str
) -> dict[str, Any]:
    """One level: a section, or a resource's properties (where CloudFormation expands loops)."""
    out: dict[str, Any] = {}
    for key, item in mapping.items():
        made = (
            _loop(key, item, parameters, where)
            if isinstance(key, str) and key.startswith(LOOP_PREFIX)
            else [(key, item)]
        )
        for out_key, out_value in made:
            if out_key in out or (out_key in mapping and out_key != key):
                raise TemplateError(f"{where}: {out_key!r} is made twice")
            out[out_key] = out_value
    return out


def _loop(name: str, body: Any, parameters: dict[str, Any], where: str) -> list[tuple[str, Any]]:
    if not (isinstance(body, list) and len(body) == 3 and isinstance(body[2], dict)):
        raise TemplateError(f"{where}.{name}: expected [Identifier, Collection, {{Key: Value}}]")
    identifier, collection, fragment = body
    if name.removeprefix(LOOP_PREFIX) in parameters:
        raise TemplateError(f"{where}.{name}: the loop's name is a parameter's name")
    if not isinstance(identifier, str) or not re.fullmatch(r"[A-Za-z0-9]+", identifier):
        raise TemplateError(f"{where}.{name}: the identifier must be alphanumeric")
    items = _collection(collection, parameters, f"{where}.{name}")
    made: list[tuple[str, Any]] = []
    for item in items:
        for key_template, value_template in fragment.items():
            if key_template.startswith(LOOP_PREFIX):  # a loop in a loop: one per outer item
                inner = _substitute(value_template, identifier, item)
                made.extend(_loop(key_template, inner, parameters, f"{where}.{name}"))
                continue
            if (
                f"${{{identifier}}}" not in key_template
                and f"&{{{identifier}}}" not in key_template
            ):
                raise TemplateError(
                    f"{where}.{name}: the key {key_template!r} must contain ${{{identifier}}} "
                    f"or &{{{identifier}}}"
                )
            made.append(
                (
                    _substitute_text(key_template, identifier, item),
                    _substitute(value_template, identifier, item),
                )
            )
    return made


def _collection(collection: Any, parameters: dict[str, Any], where: str) -> list[str]:
    if isinstance(collection, list):
        return [str(item) for item in collection]
    if isinstance(collection, dict) and set(collection) == {"Ref"}:
        parameter = parameters.get(collection["Ref"])
        if not parameter or parameter.get("Type") != "CommaDelimitedList":
            raise TemplateError(f"{where}: the collection must Ref a CommaDelimitedList parameter")
        if "Default" not in parameter:
            raise TemplateError(f"{where}: the collection's parameter has no Default")
        return [part.strip() for part in str(parameter["Default"]).split(",")]
    raise TemplateError(f"{where}: the collection must be a list or a Ref to a parameter")


def _substitute_text(text: str, identifier: str, item: str) -> str:
    bare = re.sub(r"[^A-Za-z0-9]", "", item)
    return text.replace(f"${{{identifier}}}", item).replace(f"&{{{identifier}}}", bare)


def resolve_names(value: Any) -> Any:
    """``Ref`` and ``Fn::GetAtt`` that name their resource with an ``Fn::Sub`` left with no
    variable (``!GetAtt [!Sub "Queue${Index}", Arn]`` after the loop) name it directly, as the
    transform resolves them; how a loop's fragment names its sibling resources."""
    if isinstance(value, list):
        return [resolve_names(item) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"} and _plain_sub(value["Ref"]) is not None:
        return {"Ref": _plain_sub(value["Ref"])}
    attribute = value.get("Fn::GetAtt") if set(value) == {"Fn::GetAtt"} else None
    if isinstance(attribute, list) and attribute and _plain_sub(attribute[0]) is not None:
        return {"Fn::GetAtt": [_plain_sub(attribute[0]), *resolve_names(attribute[1:])]}
    return {key: resolve_names(item) for key, item in value.items()}


def _plain_sub(value: Any) -> str | None:
    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        return None if "${" in value["Fn::Sub"] else value["Fn::Sub"]
    return None


def _substitute(value: Any, identifier: str, item: str) -> Any:
    if isinstance(value, str):
        return _substitute_text(value, identifier, item)
    if isinstance(value, list):
        return [_substitute(element, identifier, item) for element in value]
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] == identifier:
            return item
        return {
            _substitute_text(k, identifier, item) if isinstance(k, str) else k: _substitute(
                v, identifier, item
            )
            for k, v in value.items()
        }
    return value
