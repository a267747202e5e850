"""The PACS as the worker sees it: DICOMweb over HTTP. QIDO-RS lists a series' instances,
WADO-RS retrieves each instance (as stored: ``transfer-syntax=*``), STOW-RS stores results.

The worker is a trusted service inside the VPC: it sends ``x-pacs-patient-access: allowed``
because it needs whole instances (their patient module goes into the SEG it writes back)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import quote

import httpx

from algorithm_worker.errors import InstanceNotFound, PacsRefused, PacsUnavailable
from algorithm_worker.memory_budget import InstanceSize
from pipeline_common import multipart

PATIENT_ACCESS = {"x-pacs-patient-access": "allowed"}
DICOM_JSON = "application/dicom+json"
RETRIEVE_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*'
_SOP_INSTANCE_UID = "00080018"
_INSTANCE_NUMBER = "00200013"
_ROWS, _COLUMNS, _FRAMES = "00280010", "00280011", "00280008"
_SAMPLES, _BITS_ALLOCATED = "00280002", "00280100"
# Connections to the PACS stay open between jobs for up to 50 s (httpx's default is 5 s, less
# than the gap between jobs of a quiet worker): under the load balancer's 60 s idle timeout, so
# the client drops a connection before the ALB does. 32: the downloads of one job at most.
_CONNECTION_LIMITS = httpx.Limits(
    max_connections=100, max_keepalive_connections=32, keepalive_expiry=50
)


@dataclass(frozen=True)
class ListedInstance:
    """One QIDO-RS instance result: its id and, when the PACS gave its image attributes, its
    size (what the memory budget counts)."""

    instance_id: str
    size: InstanceSize | None


class PacsClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout_seconds: float,
        max_instance_bytes: int,
        http: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_instance_bytes = max_instance_bytes
        self.http = http or httpx.Client(
            timeout=timeout_seconds, follow_redirects=False, limits=_CONNECTION_LIMITS
        )

    def list_instance_ids(self, study_id: str, series_id: str) -> list[str]:
        """SOP Instance UIDs of a series (QIDO-RS), in InstanceNumber order."""
        ids = [i.instance_id for i in self.list_instances(study_id, series_id)]
        if not ids:
            raise InstanceNotFound(f"series {series_id} of study {study_id} has no instances")
        return ids

    def list_instances(
        self, study_id: str, series_id: str, instance_id: str | None = None
    ) -> list[ListedInstance]:
        """The series' instances (QIDO-RS), or only ``instance_id`` (empty when unknown), with
        their sizes (Rows, Columns, NumberOfFrames, SamplesPerPixel, BitsAllocated)."""
        path = f"/studies/{_seg(study_id)}/series/{_seg(series_id)}/instances"
        params = {"includefield": f"{_SAMPLES},{_BITS_ALLOCATED},{_FRAMES}"}
        if instance_id is not None:
            params[_SOP_INSTANCE_UID] = instance_id
        response = self._request("GET", path, headers={"Accept": DICOM_JSON}, params=params)
        try:
            results = response.json()
        except ValueError as exc:
            raise PacsUnavailable("the PACS answered a search that is not JSON") from exc
        if not isinstance(results, list):
            raise PacsUnavailable("the PACS answered a search with something else than a list")
        listed = []
        for result in results:
            if not isinstance(result, dict):
                continue
            values = result.get(_SOP_INSTANCE_UID, {}).get("Value") or []
            if values:
                listed.append(ListedInstance(str(values[0]), _size_of(result)))
        return listed

    def download_instance(self, study_id: str, series_id: str, instance_id: str) -> bytes:
        """One instance's PS3.10 bytes, as stored (WADO-RS retrieve instance)."""
        path = f"/studies/{_seg(study_id)}/series/{_seg(series_id)}/instances/{_seg(instance_id)}"
        headers = {"Accept": RETRIEVE_ACCEPT, **PATIENT_ACCESS}
        try:
            with self.http.stream("GET", self.base_url + path, headers=headers) as response:
                if response.status_code != 200:
                    response.read()
                    _raise_for(response, f"retrieve of instance {instance_id}")
                received = bytearray()
                # The multipart envelope adds a few hundred bytes around the instance.
                limit = self.max_instance_bytes + 64 * 1024
                for chunk in response.iter_bytes():
                    received += chunk
                    if len(received) > limit:
                        raise PacsRefused(
                            f"instance {instance_id} is larger than {self.max_instance_bytes} bytes"
                        )
                content_type = response.headers.get("content-type")
        except httpx.HTTPError as exc:
            raise PacsUnavailable(f"retrieve of instance {instance_id} failed: {exc}") from exc
        try:
            parts = multipart.split_parts(bytes(received), multipart.boundary_of(content_type))
        except ValueError as exc:
            raise PacsUnavailable(f"retrieve of instance {instance_id}: {exc}") from exc
        if len(parts) != 1:
            raise PacsUnavailable(
                f"retrieve of instance {instance_id} answered {len(parts)} parts, not 1"
            )
        return parts[0].body

    def store_instances(self, study_id: str, instances: list[bytes]) -> dict[str, Any]:
        """STOW-RS into ``study_id``; the Store Instances Response (DICOM JSON). A failed
        instance is in its Failed SOP Sequence; the caller decides what that means."""
        boundary = f"worker-{uuid.uuid4().hex}"
        body = multipart.encode([("application/dicom", data) for data in instances], boundary)
        headers = {
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
            "Accept": DICOM_JSON,
            **PATIENT_ACCESS,
        }
        try:
            response = self.http.post(
                f"{self.base_url}/studies/{_seg(study_id)}", content=body, headers=headers
            )
        except httpx.HTTPError as exc:
            raise PacsUnavailable(f"PACS API unreachable: {type(exc).__name__}") from exc
        if response.status_code not in (200, 202, 409):
            _raise_for(response, "store")
        try:
            return dict(response.json())
        except ValueError as exc:
            raise PacsUnavailable("the PACS answered a store that is not JSON") from exc

    def _request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str],
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        try:
            response = self.http.request(
                method, self.base_url + path, headers=headers, params=params
            )
        except httpx.HTTPError as exc:
            raise PacsUnavailable(f"PACS API unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            _raise_for(response, f"{method} {path}")
        return response


def _size_of(result: dict[str, Any]) -> InstanceSize | None:
    def integer(tag: str, default: int | None) -> int | None:
        values = (result.get(tag) or {}).get("Value") or []
        try:
            return int(values[0]) if values else default
        except (TypeError, ValueError):
            return default

    rows, columns = integer(_ROWS, None), integer(_COLUMNS, None)
    if not rows or not columns or rows < 0 or columns < 0:
        return None  # not an image, or a PACS that does not return the attributes
    return InstanceSize(
        rows=rows,
        columns=columns,
        frames=max(integer(_FRAMES, 1) or 1, 1),
        samples=max(integer(_SAMPLES, 1) or 1, 1),
        bits_allocated=max(integer(_BITS_ALLOCATED, 16) or 16, 1),
    )


def _raise_for(response: httpx.Response, what: str) -> NoReturn:
    message = _error_message(response)
    if response.status_code == 404:
        raise InstanceNotFound(f"not found in the PACS: {message}")
    if 400 <= response.status_code < 500 and response.status_code != 429:
        raise PacsRefused(f"the PACS refused the {what} ({response.status_code}): {message}")
    raise PacsUnavailable(f"PACS API answered {response.status_code} to the {what}: {message}")


def _seg(identifier: str) -> str:
    # Ids were validated by the job contract; quoting anyway keeps a URL from ever changing shape.
    return quote(identifier, safe="")


def _error_message(response: httpx.Response) -> str:
    """The PACS's own words from its error body (``{"error": {"code", "message"}}``), else the
    start of whatever answered (a load balancer's page)."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return response.text[:200]
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return response.text[:200]
