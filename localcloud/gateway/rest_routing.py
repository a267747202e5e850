"""REST API resource matching: literal segments beat ``{param}``, which beats greedy ``{proxy+}``.

API Gateway picks the resource first and the method second: a path whose best resource lacks the
method is a 403 ("Missing Authentication Token"), even if a less specific resource has it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from localcloud.gateway.models import RestRoute

ANY = "ANY"
ALL_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")

_LITERAL, _PARAM, _GREEDY = 2, 1, 0


@dataclass(frozen=True)
class _Segment:
    kind: int
    text: str  # the literal, or the parameter's name


@dataclass(frozen=True)
class RouteMatch:
    route: RestRoute
    resource: str
    path_parameters: dict[str, str]


def split_path(path: str) -> list[str]:
    return [segment for segment in path.split("/") if segment != ""]


def _parse_resource(resource: str) -> tuple[_Segment, ...]:
    if not resource.startswith("/"):
        raise ValueError(f"resource path must start with '/': {resource!r}")
    segments = []
    parts = split_path(resource)
    for index, part in enumerate(parts):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1]
            if name.endswith("+"):
                if index != len(parts) - 1:
                    raise ValueError(f"greedy parameter must be last: {resource!r}")
                segments.append(_Segment(_GREEDY, name[:-1]))
            else:
                segments.append(_Segment(_PARAM, name))
        else:
            segments.append(_Segment(_LITERAL, part))
    return tuple(segments)


def _match(segments: tuple[_Segment, ...], parts: list[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for index, segment in enumerate(segments):
        if segment.kind == _GREEDY:
            rest = parts[index:]
            if not rest:
                return None
            params[segment.text] = "/".join(unquote(part) for part in rest)
            return params
        if index >= len(parts):
            return None
        if segment.kind == _LITERAL:
            if unquote(parts[index]) != segment.text:
                return None
        else:
            params[segment.text] = unquote(parts[index])
    return params if len(parts) == len(segments) else None


class RestRouter:
    def __init__(self, routes: Sequence[RestRoute]) -> None:
        self._resources: dict[str, tuple[_Segment, ...]] = {}
        self._methods: dict[str, dict[str, RestRoute]] = {}
        for route in routes:
            resource = "/" + "/".join(split_path(route.path))
            method = route.method.upper()
            if method != ANY and method not in ALL_METHODS:
                raise ValueError(f"unsupported method {route.method!r} on {route.path}")
            self._resources.setdefault(resource, _parse_resource(resource))
            methods = self._methods.setdefault(resource, {})
            if method in methods:
                raise ValueError(f"route declared twice: {method} {resource}")
            methods[method] = route

    def resource_for(self, path: str) -> tuple[str, dict[str, str]] | None:
        """The most specific resource matching ``path`` (still percent-encoded) and its params."""
        parts = split_path(path)
        best: tuple[tuple[int, ...], str, dict[str, str]] | None = None
        for resource, segments in self._resources.items():
            params = _match(segments, parts)
            if params is None:
                continue
            rank = tuple(segment.kind for segment in segments)
            if best is None or rank > best[0]:
                best = (rank, resource, params)
        return None if best is None else (best[1], best[2])

    def methods_of(self, resource: str) -> dict[str, RestRoute]:
        return self._methods.get(resource, {})

    def match(self, method: str, path: str) -> RouteMatch | None:
        found = self.resource_for(path)
        if found is None:
            return None
        resource, params = found
        methods = self._methods[resource]
        route = methods.get(method.upper()) or methods.get(ANY)
        if route is None:
            return None
        return RouteMatch(route=route, resource=resource, path_parameters=params)


# HTTP APIs match paths with the same segment rules (their route selection is in http_api.py).
parse_resource = _parse_resource
match_segments = _match
