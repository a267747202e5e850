"""The FastAPI application: routes, CORS, request logging and the one error-to-status mapping."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from pacs_api.dicom_files import parse_dicom, select_metadata
from pacs_api.errors import InvalidIdentifier, NotFound, PacsError
from pacs_api.identifiers import checked_id, raw_path_problem
from pacs_api.models import (
    ErrorBody,
    Health,
    InstanceList,
    InstanceMetadata,
    InstanceSummary,
    PresignedUrl,
    SeriesList,
    SeriesSummary,
    StudyList,
    StudySummary,
)
from pacs_api.rendering import render_png
from pacs_api.settings import PacsSettings
from pacs_api.store import PacsStore
from pipeline_common.observability import logger

INSTANCE_PATH = "/studies/{study}/series/{series}/instances/{instance}"


class RejectTraversal:
    """Refuse encoded separators and dot segments before routing ever sees the decoded path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw_path = scope.get("raw_path") or scope["path"].encode()
            problem = raw_path_problem(raw_path, scope["path"])
            if problem:
                logger.warning("request refused", extra={"reason": problem})
                response = _error_response(InvalidIdentifier(problem))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _error_response(error: PacsError) -> JSONResponse:
    body = ErrorBody(error=error.code, message=error.message)
    return JSONResponse(status_code=error.status_code, content=body.model_dump())


def create_app(settings: PacsSettings | None = None, store: PacsStore | None = None) -> FastAPI:
    settings = settings or PacsSettings()
    store = store or PacsStore(settings.pacs_bucket)
    app = FastAPI(title="PACS API", version="1.0.0", docs_url="/docs", redoc_url=None)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "OPTIONS"],
            allow_headers=["authorization", "content-type", "accept"],
        )
    app.add_middleware(RejectTraversal)

    @app.middleware("http")
    async def log_requests(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        # Paths carry only UIDs, never patient data, so they are safe to log.
        logger.info(
            "request",
            extra={
                "method": request.method,
                "path": request.url.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
        return response

    @app.exception_handler(PacsError)
    async def pacs_error(_request: Request, exc: PacsError) -> JSONResponse:
        if exc.status_code >= 500:
            logger.error("PACS request failed", extra={"error": exc.code, "detail": exc.message})
        return _error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg')}"
            for err in exc.errors()
        )
        return JSONResponse(
            status_code=400, content=ErrorBody(error="invalid_query", message=problems).model_dump()
        )

    router = APIRouter()

    @router.get("/health")
    def health() -> Health:
        return Health(status="ok")

    @router.get("/studies")
    def list_studies() -> StudyList:
        studies = [StudySummary(study_id=s) for s in store.list_studies()]
        return StudyList(studies=studies, count=len(studies))

    @router.get("/studies/{study}/series")
    def list_series(study: str) -> SeriesList:
        study = checked_id("study", study)
        series = [SeriesSummary(series_id=s) for s in store.list_series(study)]
        return SeriesList(study_id=study, series=series, count=len(series))

    @router.get("/studies/{study}/series/{series}/instances")
    def list_instances(study: str, series: str) -> InstanceList:
        study, series = checked_id("study", study), checked_id("series", series)
        instances = [
            InstanceSummary(
                instance_id=i.instance_id, size_bytes=i.size_bytes, last_modified=i.last_modified
            )
            for i in store.list_instances(study, series)
        ]
        return InstanceList(
            study_id=study, series_id=series, instances=instances, count=len(instances)
        )

    def _ids(study: str, series: str, instance: str) -> tuple[str, str, str]:
        return (
            checked_id("study", study),
            checked_id("series", series),
            checked_id("instance", instance),
        )

    @router.get(INSTANCE_PATH + "/metadata")
    def instance_metadata(study: str, series: str, instance: str) -> InstanceMetadata:
        study, series, instance = _ids(study, series, instance)
        data = store.read_instance(study, series, instance, max_bytes=settings.max_object_bytes)
        selected = select_metadata(parse_dicom(data, instance))
        return InstanceMetadata(
            study_id=study, series_id=series, instance_id=instance, size_bytes=len(data), **selected
        )

    @router.get(INSTANCE_PATH + "/url")
    def instance_url(study: str, series: str, instance: str) -> PresignedUrl:
        study, series, instance = _ids(study, series, instance)
        expires_in = settings.presign_expiry_seconds
        url = store.presign_instance(study, series, instance, expires_in=expires_in)
        return PresignedUrl(url=url, expires_in=expires_in)

    @router.get(
        INSTANCE_PATH + "/rendered",
        response_class=Response,
        responses={200: {"content": {"image/png": {}}}},
    )
    def instance_rendered(
        study: str,
        series: str,
        instance: str,
        window_center: Annotated[float | None, Query(allow_inf_nan=False)] = None,
        window_width: Annotated[float | None, Query(ge=1, allow_inf_nan=False)] = None,
        frame: Annotated[int, Query(ge=0)] = 0,
    ) -> Response:
        study, series, instance = _ids(study, series, instance)
        data = store.read_instance(study, series, instance, max_bytes=settings.max_object_bytes)
        png = render_png(
            parse_dicom(data, instance),
            instance,
            window_center=window_center,
            window_width=window_width,
            frame=frame,
        )
        return Response(
            content=png, media_type="image/png", headers={"Cache-Control": "private, max-age=60"}
        )

    @router.get("/studies/{rest:path}", include_in_schema=False)
    def unknown_study_path(rest: str) -> None:
        # Anything under /studies that no route matched: a bad id is a 400, the rest a 404.
        for segment in rest.split("/"):
            if segment:
                checked_id("path segment", segment)
        raise NotFound("no such resource")

    # The ALB forwards /pacs/... unchanged (it cannot strip a prefix): serve the API both under
    # ROOT_PATH and at the root, where the container's own health check and local runs call it.
    app.include_router(router)
    if settings.root_path:
        app.include_router(router, prefix=settings.root_path)
    return app
