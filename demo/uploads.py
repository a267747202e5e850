"""Uploads the way the web console makes them: ``POST /uploads`` as the logged-in user (the key is
under the user's own prefix, ``uploads/<sub>/``), then the file straight to S3 with the presigned
POST it answered. The user's console then shows what the demo sent."""

from __future__ import annotations

import requests

from clients.ws_client import RestApi


def upload(api: RestApi, kind: str, filename: str, data: bytes, content_type: str) -> str:
    """The S3 key the file was stored under."""
    ticket = api.create_upload(kind, filename, content_type)
    response = requests.post(
        ticket["url"],
        data=ticket["fields"],
        # S3 ignores every form field after the file: it goes last.
        files={"file": (filename, data, content_type)},
        timeout=120,
    )
    if response.status_code >= 300:
        raise RuntimeError(
            f"S3 refused the upload of {filename}: {response.status_code} {response.text[:300]}"
        )
    return str(ticket["key"])
