"""The FastAPI application: DICOMweb routes (QIDO-RS, WADO-RS, STOW-RS), the few project routes,
CORS, request logging and the one error-to-status mapping (every error, the router's own
included, answers ``{"error": {"code", "message"}}`` as every API of the project).

Patient access: a request may see patient-level attributes, or retrieve whole instances (which
carry them), only with the header ``x-pacs-patient-access: allowed``. The API gateway in front of
this service overwrites that header from the caller's group; services inside the VPC (the
algorithm workers) send it themselves.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from http import HTTPStatus
from io import BytesIO
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, StreamingResponse
from pydicom import dcmread
from pydicom.errors import InvalidDicomError
from pydicom.uid import ExplicitVRLittleEndian
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from pacs_api import multipart, qido
from pacs_api.dicom_files import parse_dicom
from pacs_api.dicomjson import is_patient_attribute, metadata_json, without_patient_attributes
from pacs_api.errors import (
    InvalidIdentifier,
    InvalidQuery,
    NotAcceptable,
    NotFound,
    ObjectTooLarge,
    PacsError,
    PatientAccessRequired,
)
from pacs_api.identifiers import checked_id, is_identifier, raw_path_problem
from pacs_api.index import IndexedInstance, InstanceIndex
from pacs_api.models import Health, PresignedUrl
from pacs_api.rendering import JPEG, PNG, frame_bytes, frame_count, render
from pacs_api.settings import PacsSettings
from pacs_api.store import PacsStore
from pacs_api.stow import store_parts
from pipeline_common.api_errors import ApiError, route_error
from pipeline_common.observability import logger

PATIENT_ACCESS_HEADER = "x-pacs-patient-access"
DICOM_JSON = "application/dicom+json"
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


def _error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(status_code=error.status.value, content=error.body())


def patient_access(request: Request) -> bool:
    return request.headers.get(PATIENT_ACCESS_HEADER, "").strip().lower() == "allowed"


def _require_patient_access(request: Request, what: str) -> None:
    if not patient_access(request):
        raise PatientAccessRequired(f"{what} carries patient data and needs patient access")


def _dicom_json(content: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(content=content, status_code=status_code, media_type=DICOM_JSON)


def _frame_numbers(frames: str, count: int) -> list[int]:
    """1-based frame numbers of a ``frames/{list}`` path, as 0-based indices."""
    numbers = []
    for item in frames.split(","):
        try:
            number = int(item)
        except ValueError as exc:
            raise InvalidQuery(f"frame list {frames!r} is not a list of positive integers") from exc
        if number < 1 or number > count:
            raise InvalidQuery(f"frame {number} does not exist (the instance has {count})")
        numbers.append(number - 1)
    return numbers


def _window(
    window: str | None, center: float | None, width: float | None
) -> tuple[float | None, float | None]:
    """PS3.18 ``window=center,width[,function]``, or the project's ``window_center/_width``."""
    if window is None:
        return center, width
    parts = window.split(",")
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        center, width = float(parts[0]), float(parts[1])
    except ValueError as exc:
        raise InvalidQuery("window must be 'center,width[,function]'") from exc
    if len(parts) == 3 and parts[2].strip().lower() not in ("linear", ""):
        raise InvalidQuery("only the linear window function is supported")
    if width < 1:
        raise InvalidQuery("window width must be at least 1")
    return center, width


def create_app(settings: PacsSettings | None = None, store: PacsStore | None = None) -> FastAPI:
    settings = settings or PacsSettings()
    store = store or PacsStore(settings.pacs_bucket)
    index = InstanceIndex(store, max_object_bytes=settings.max_object_bytes)
    app = FastAPI(title="PACS API", version="2.0.0", docs_url="/docs", redoc_url=None)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["authorization", "content-type", "accept"],
        )
    app.add_middleware(RejectTraversal)

    @app.middleware("http")
    async def log_requests(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        # Paths carry only UIDs, never patient data, so they are safe to log; query strings
        # (QIDO matching keys such as PatientID) are not logged.
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
        if exc.status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            logger.error("PACS request failed", extra={"error": exc.code, "detail": exc.message})
        return _error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg')}"
            for err in exc.errors()
        )
        return _error_response(InvalidQuery(problems))

    @app.exception_handler(StarletteHTTPException)
    async def no_route(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # The router's own refusals (no such path, method not allowed) in the same body.
        content = route_error(HTTPStatus(exc.status_code))
        return JSONResponse(status_code=exc.status_code, content=content, headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, _exc: Exception) -> JSONResponse:
        logger.exception("PACS request failed unexpectedly")
        return _error_response(PacsError("internal error"))

    def base_url(request: Request) -> str:
        if settings.public_url:
            return settings.public_url.rstrip("/")
        root = str(request.base_url).rstrip("/")
        prefix = settings.root_path
        if prefix and (request.url.path == prefix or request.url.path.startswith(prefix + "/")):
            return root + prefix
        return root

    def query_of(request: Request) -> qido.Query:
        return qido.parse_query(
            request.query_params.multi_items(), patient_access=patient_access(request)
        )

    def _ids(study: str, series: str, instance: str) -> tuple[str, str, str]:
        return (
            checked_id("study", study),
            checked_id("series", series),
            checked_id("instance", instance),
        )

    def read(study: str, series: str, instance: str) -> bytes:
        return store.read_instance(study, series, instance, max_bytes=settings.max_object_bytes)

    def indexed(study: str | None = None, series: str | None = None) -> list[IndexedInstance]:
        instances = index.instances(study, series)
        if not instances and study is not None:
            what = f"series {series} of study {study}" if series else f"study {study}"
            raise NotFound(f"{what} not found")
        return instances

    router = APIRouter()

    @router.get("/health")
    def health() -> Health:
        return Health(status="ok")

    # -- QIDO-RS ----------------------------------------------------------------------------

    @router.get("/studies")
    def search_studies(request: Request) -> JSONResponse:
        results = qido.search_studies(
            index.instances(),
            query_of(request),
            base_url=base_url(request),
            patient_access=patient_access(request),
        )
        return _dicom_json(results)

    @router.get("/studies/{study}/series")
    def search_study_series(study: str, request: Request) -> JSONResponse:
        study = checked_id("study", study)
        query = query_of(request)
        results = qido.search_series(
            indexed(study),
            query,
            base_url=base_url(request),
            patient_access=patient_access(request),
            flat=False,
        )
        return _dicom_json(results)

    @router.get("/series")
    def search_all_series(request: Request) -> JSONResponse:
        results = qido.search_series(
            index.instances(),
            query_of(request),
            base_url=base_url(request),
            patient_access=patient_access(request),
            flat=True,
        )
        return _dicom_json(results)

    @router.get("/studies/{study}/series/{series}/instances")
    def search_series_instances(study: str, series: str, request: Request) -> JSONResponse:
        study, series = checked_id("study", study), checked_id("series", series)
        query = query_of(request)
        # A search for given instances (a worker's before it retrieves one) reads just those,
        # not the whole series; when none of them is stored, the series answers as usual (its
        # 404 when it does not exist either).
        named = qido.named_instances(query) or []
        by_key = named and all(is_identifier(uid) for uid in named)
        candidates = index.named(study, series, named) if by_key else []
        results = qido.search_instances(
            candidates or indexed(study, series),
            query,
            base_url=base_url(request),
            patient_access=patient_access(request),
            flat=False,
        )
        return _dicom_json(results)

    @router.get("/studies/{study}/instances")
    def search_study_instances(study: str, request: Request) -> JSONResponse:
        study = checked_id("study", study)
        results = qido.search_instances(
            indexed(study),
            query_of(request),
            base_url=base_url(request),
            patient_access=patient_access(request),
            flat=False,
        )
        return _dicom_json(results)

    @router.get("/instances")
    def search_all_instances(request: Request) -> JSONResponse:
        results = qido.search_instances(
            index.instances(),
            query_of(request),
            base_url=base_url(request),
            patient_access=patient_access(request),
            flat=True,
        )
        return _dicom_json(results)

    # -- WADO-RS: instances, metadata, bulk data ----------------------------------------------

    def retrieve(request: Request, instances: list[tuple[str, str, str]]) -> StreamingResponse:
        _require_patient_access(request, "a whole instance")
        _, syntax = multipart.negotiate_multipart(
            request.headers.get("accept"), ["application/dicom"]
        )
        wanted = None if syntax in (None, "*") else syntax
        if wanted is not None and wanted != ExplicitVRLittleEndian:
            raise NotAcceptable(
                f"instances are sent as stored (transfer-syntax=*) or as {ExplicitVRLittleEndian}"
            )
        boundary = multipart.new_boundary()

        def parts() -> Iterator[bytes]:
            for ids in instances:
                data = read(*ids)
                if wanted is not None:
                    data = _transcoded(data, ids[2], wanted)
                syntax_of = _syntax_of(data)
                content_type = "application/dicom" + (
                    f"; transfer-syntax={syntax_of}" if syntax_of else ""
                )
                yield multipart.encode_part(boundary, content_type, data)
            yield multipart.closing(boundary)

        # The first instance is read before answering, so a missing one is a 404, not a cut stream.
        stream = parts()
        first = next(stream)
        return StreamingResponse(
            _chain(first, stream),
            media_type=multipart.multipart_content_type(boundary, "application/dicom"),
        )

    @router.get("/studies/{study}", response_model=None)
    def retrieve_study(study: str, request: Request) -> StreamingResponse:
        study = checked_id("study", study)
        _require_patient_access(request, "a whole instance")
        ids = [(i.study_id, i.series_id, i.instance_id) for i in indexed(study)]
        return retrieve(request, ids)

    @router.get("/studies/{study}/series/{series}", response_model=None)
    def retrieve_series(study: str, series: str, request: Request) -> StreamingResponse:
        study, series = checked_id("study", study), checked_id("series", series)
        _require_patient_access(request, "a whole instance")
        ids = [(i.study_id, i.series_id, i.instance_id) for i in indexed(study, series)]
        return retrieve(request, ids)

    @router.get(INSTANCE_PATH, response_model=None)
    def retrieve_instance(
        study: str, series: str, instance: str, request: Request
    ) -> StreamingResponse:
        return retrieve(request, [_ids(study, series, instance)])

    def metadata_of(instances: list[IndexedInstance], request: Request) -> list[dict[str, Any]]:
        access = patient_access(request)
        results = []
        for item in instances:
            if not item.readable:
                continue  # not DICOM: it has no metadata to give (its own route says why)
            ids = (item.study_id, item.series_id, item.instance_id)
            ds = parse_dicom(read(*ids), item.instance_id)
            meta = metadata_json(
                ds, f"{base_url(request)}/studies/{ids[0]}/series/{ids[1]}/instances/{ids[2]}"
            )
            results.append(meta if access else without_patient_attributes(meta))
        return results

    @router.get("/studies/{study}/metadata")
    def study_metadata(study: str, request: Request) -> JSONResponse:
        return _dicom_json(metadata_of(indexed(checked_id("study", study)), request))

    @router.get("/studies/{study}/series/{series}/metadata")
    def series_metadata(study: str, series: str, request: Request) -> JSONResponse:
        study, series = checked_id("study", study), checked_id("series", series)
        return _dicom_json(metadata_of(indexed(study, series), request))

    @router.get(INSTANCE_PATH + "/metadata")
    def instance_metadata(study: str, series: str, instance: str, request: Request) -> JSONResponse:
        study, series, instance = _ids(study, series, instance)
        ds = parse_dicom(read(study, series, instance), instance)
        url = f"{base_url(request)}/studies/{study}/series/{series}/instances/{instance}"
        meta = metadata_json(ds, url)
        return _dicom_json([meta if patient_access(request) else without_patient_attributes(meta)])

    @router.get(INSTANCE_PATH + "/bulkdata/{tag}")
    def instance_bulkdata(
        study: str, series: str, instance: str, tag: str, request: Request
    ) -> Response:
        study, series, instance = _ids(study, series, instance)
        try:
            number = int(tag, 16)
        except ValueError as exc:
            raise InvalidQuery(f"bulk data tag {tag!r} is not eight hex digits") from exc
        ds = parse_dicom(read(study, series, instance), instance)
        if number not in ds:
            raise NotFound(f"instance {instance} has no element {tag}")
        elem = ds[number]
        if is_patient_attribute(f"{number:08X}", elem.VR) and not patient_access(request):
            raise PatientAccessRequired(f"element {tag} is patient data and needs patient access")
        value = elem.value if isinstance(elem.value, bytes) else b""
        boundary = multipart.new_boundary()
        body = multipart.encode_part(
            boundary, "application/octet-stream", value
        ) + multipart.closing(boundary)
        return Response(
            body, media_type=multipart.multipart_content_type(boundary, "application/octet-stream")
        )

    # -- WADO-RS: frames and rendered ---------------------------------------------------------

    @router.get(INSTANCE_PATH + "/frames/{frames}")
    def instance_frames(
        study: str, series: str, instance: str, frames: str, request: Request
    ) -> Response:
        study, series, instance = _ids(study, series, instance)
        _, syntax = multipart.negotiate_multipart(
            request.headers.get("accept"), ["application/octet-stream"]
        )
        ds = parse_dicom(read(study, series, instance), instance)
        if "PixelData" not in ds:
            raise NotFound(f"instance {instance} has no pixel data")
        stored = str(ds.file_meta.TransferSyntaxUID)
        as_stored = syntax == "*" or syntax == stored
        if syntax not in (None, "*", stored, ExplicitVRLittleEndian):
            raise NotAcceptable(
                f"frames are sent as stored ({stored}) or as {ExplicitVRLittleEndian}"
            )
        sent = (
            stored
            if as_stored and ds.file_meta.TransferSyntaxUID.is_encapsulated
            else ExplicitVRLittleEndian
        )
        boundary = multipart.new_boundary()
        body = b"".join(
            multipart.encode_part(
                boundary,
                f"application/octet-stream; transfer-syntax={sent}",
                frame_bytes(ds, number, instance, as_stored=as_stored),
            )
            for number in _frame_numbers(frames, frame_count(ds))
        ) + multipart.closing(boundary)
        return Response(
            body, media_type=multipart.multipart_content_type(boundary, "application/octet-stream")
        )

    def rendered_response(
        request: Request,
        ids: tuple[str, str, str],
        frame: int,
        window: str | None,
        window_center: float | None,
        window_width: float | None,
        quality: int,
        accept: str | None,
    ) -> Response:
        media_type = multipart.negotiate_single(request.headers.get("accept"), [PNG, JPEG], accept)
        center, width = _window(window, window_center, window_width)
        ds = parse_dicom(read(*ids), ids[2])
        body = render(
            ds,
            ids[2],
            window_center=center,
            window_width=width,
            frame=frame,
            media_type=media_type,
            quality=quality,
        )
        return Response(
            content=body, media_type=media_type, headers={"Cache-Control": "private, max-age=60"}
        )

    @router.get(
        INSTANCE_PATH + "/rendered",
        response_class=Response,
        responses={200: {"content": {PNG: {}, JPEG: {}}}},
    )
    def instance_rendered(
        study: str,
        series: str,
        instance: str,
        request: Request,
        window: str | None = None,
        window_center: Annotated[float | None, Query(allow_inf_nan=False)] = None,
        window_width: Annotated[float | None, Query(ge=1, allow_inf_nan=False)] = None,
        frame: Annotated[int, Query(ge=0, description="0-based (project parameter)")] = 0,
        quality: Annotated[int, Query(ge=1, le=100)] = 90,
        accept: str | None = None,
    ) -> Response:
        ids = _ids(study, series, instance)
        return rendered_response(
            request, ids, frame, window, window_center, window_width, quality, accept
        )

    @router.get(
        INSTANCE_PATH + "/frames/{frame}/rendered",
        response_class=Response,
        responses={200: {"content": {PNG: {}, JPEG: {}}}},
    )
    def frame_rendered(
        study: str,
        series: str,
        instance: str,
        frame: Annotated[int, Path(ge=1)],
        request: Request,
        window: str | None = None,
        quality: Annotated[int, Query(ge=1, le=100)] = 90,
        accept: str | None = None,
    ) -> Response:
        ids = _ids(study, series, instance)
        return rendered_response(request, ids, frame - 1, window, None, None, quality, accept)

    # -- project route: a short-lived direct link -------------------------------------------

    @router.get(INSTANCE_PATH + "/url")
    def instance_url(study: str, series: str, instance: str, request: Request) -> PresignedUrl:
        study, series, instance = _ids(study, series, instance)
        _require_patient_access(request, "a whole instance")
        expires_in = settings.presign_expiry_seconds
        url = store.presign_instance(study, series, instance, expires_in=expires_in)
        return PresignedUrl(url=url, expires_in=expires_in)

    # -- STOW-RS ----------------------------------------------------------------------------

    async def stow(request: Request, study: str | None) -> JSONResponse:
        boundary = multipart.request_boundary(
            request.headers.get("content-type"), "application/dicom"
        )
        limit = settings.max_stow_request_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise ObjectTooLarge(f"the request is {declared} bytes; the limit is {limit}")
        received = bytearray()
        async for chunk in request.stream():
            received += chunk
            if len(received) > limit:
                raise ObjectTooLarge(f"the request is larger than {limit} bytes")
        parts = multipart.split_parts(bytes(received), boundary)
        if not parts:
            raise InvalidQuery("the multipart body has no parts")
        result = await run_in_threadpool(
            store_parts,
            parts,
            store=store,
            index=index,
            study=study,
            max_part_bytes=settings.max_stow_part_bytes,
        )
        logger.info(
            "STOW",
            extra={"stored": len(result.stored), "failed": len(result.failed), "study": study},
        )
        return _dicom_json(result.response(base_url(request), study), result.status_code)

    @router.post("/studies")
    async def store_instances(request: Request) -> JSONResponse:
        return await stow(request, None)

    @router.post("/studies/{study}")
    async def store_study_instances(study: str, request: Request) -> JSONResponse:
        return await stow(request, checked_id("study", study))

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


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _syntax_of(data: bytes) -> str | None:
    """The transfer syntax named in a stored object's file meta (None for a non-DICOM object)."""
    try:
        ds = dcmread(BytesIO(data), stop_before_pixels=True, specific_tags=["SOPInstanceUID"])
    except (InvalidDicomError, EOFError, OSError, ValueError, KeyError, TypeError):
        return None
    meta = getattr(ds, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    return str(uid) if uid else None


def _transcoded(data: bytes, instance_id: str, syntax: str) -> bytes:
    ds = parse_dicom(data, instance_id)
    if str(ds.file_meta.TransferSyntaxUID) == syntax:
        return data
    try:
        ds.decompress(generate_instance_uid=False)
    except Exception as exc:
        raise NotAcceptable(
            f"instance {instance_id} cannot be sent as {syntax}: {str(exc)[:200]}"
        ) from exc
    out = BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()
