"""A built single-page app on its own port: files as they are, ``/config.json`` from the local
cloud (the endpoints the app must call), and ``index.html`` for every other path (client routes)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from localcloud.gateway.models import StaticSiteSpec


class StaticSite:
    def __init__(self, spec: StaticSiteSpec) -> None:
        self._root = spec.directory.resolve()
        self._config = spec.config

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/config.json", self._config_json)
        app.router.add_get("/{tail:.*}", self._file)
        return app

    async def _config_json(self, request: web.Request) -> web.Response:
        # Never cached: it changes with every local cloud start (ports are picked then).
        return web.json_response(self._config, headers={"Cache-Control": "no-store"})

    async def _file(self, request: web.Request) -> web.StreamResponse:
        candidate = (self._root / request.match_info["tail"]).resolve()
        if candidate.is_relative_to(self._root) and candidate.is_file():
            return web.FileResponse(candidate)
        index = self._root / "index.html"
        if index.is_file():
            return web.FileResponse(index)
        raise web.HTTPNotFound()


def require_directory(directory: Path) -> Path:
    if not directory.is_dir():
        raise ValueError(f"static site directory does not exist: {directory}")
    return directory
