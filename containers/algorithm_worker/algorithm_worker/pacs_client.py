"""The PACS API as the worker sees it: instance listings and presigned downloads over HTTP."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from algorithm_worker.errors import InstanceNotFound, PacsRefused, PacsUnavailable


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
        self.http = http or httpx.Client(timeout=timeout_seconds, follow_redirects=False)

    def list_instance_ids(self, study_id: str, series_id: str) -> list[str]:
        body = self._get_json(f"/studies/{_seg(study_id)}/series/{_seg(series_id)}/instances")
        return [str(item["instance_id"]) for item in body["instances"]]

    def download_instance(self, study_id: str, series_id: str, instance_id: str) -> bytes:
        path = f"/studies/{_seg(study_id)}/series/{_seg(series_id)}/instances/{_seg(instance_id)}"
        url = str(self._get_json(path + "/url")["url"])
        try:
            with self.http.stream("GET", url) as response:
                if response.status_code == 404:
                    raise InstanceNotFound(f"instance {instance_id} disappeared from the PACS")
                if response.status_code != 200:
                    raise PacsUnavailable(
                        f"download of instance {instance_id} answered {response.status_code}"
                    )
                chunks: list[bytes] = []
                received = 0
                for chunk in response.iter_bytes():
                    received += len(chunk)
                    if received > self.max_instance_bytes:
                        raise PacsRefused(
                            f"instance {instance_id} is larger than {self.max_instance_bytes} bytes"
                        )
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.HTTPError as exc:
            raise PacsUnavailable(f"download of instance {instance_id} failed: {exc}") from exc

    def _get_json(self, path: str) -> dict:
        try:
            response = self.http.get(self.base_url + path)
        except httpx.HTTPError as exc:
            raise PacsUnavailable(f"PACS API unreachable: {type(exc).__name__}") from exc
        if response.status_code == 200:
            return dict(response.json())
        message = _error_message(response)
        if response.status_code == 404:
            raise InstanceNotFound(f"not found in the PACS: {message}")
        if 400 <= response.status_code < 500 and response.status_code != 429:
            raise PacsRefused(f"the PACS refused the request ({response.status_code}): {message}")
        raise PacsUnavailable(f"PACS API answered {response.status_code}: {message}")


def _seg(identifier: str) -> str:
    # Ids were validated by the job contract; quoting anyway keeps a URL from ever changing shape.
    return quote(identifier, safe="")


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", response.text[:200]))
    except ValueError:
        return response.text[:200]
