"""Drive the medical job pipeline: fill the PACS through DICOMweb STOW-RS (``clients.pacs``,
as the demo user), then a push-mode job over the WebSocket (the shipped CLI, logged in as the demo
user from the env file), the job's DICOM SEG found by a QIDO-RS search, and a poll-mode job over
``GET /results`` (the same user)."""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path
from typing import Any

import httpx

from clients import pacs as pacs_cli
from clients import ws_client
from clients.auth import TokenSource
from clients.env import Endpoints
from demo.report import block, line, section
from localcloud.cloud import LocalCloud
from pacs_api.seed import demo_files, demo_objects


def run(cloud: LocalCloud, env_file: Path, out_dir: Path, login: TokenSource) -> None:
    section("Job API: REST -> FIFO queue -> DICOM worker -> SNS/SQS -> WebSocket push and polling")
    pacs_url = cloud.outputs["PacsApiUrl"]
    summary = pacs_cli.run_import(
        [path for _, path in demo_files()],
        pacs_cli.StowClient(pacs_url, login.id_token),
        batch_size=20,
        batch_bytes=8 * 1024 * 1024,
    )
    line(
        "PACS filled through STOW-RS",
        f"python -m clients.pacs import ...: stored {summary.count('stored')}, already present "
        f"{summary.count('already present')}, failed {summary.count('failed')} "
        "(pydicom's test files)",
    )
    outcomes = demo_objects()
    first = next(o for o in outcomes if "CT" in o.source) if outcomes else None
    if first is None:
        line("skipped", "no DICOM instance to process")
        return
    line("instance", f"{first.source}: study {first.study_id}")
    line(
        "PACS preview (Bearer token)",
        f"{cloud.outputs['PacsApiUrl']}/studies/{first.study_id}/series/"
        f"{first.series_id}/instances/{first.instance_id}/rendered",
    )

    line("push mode", "python -m clients.ws_client --algo processing_1 ... (WebSocket)")
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        code = ws_client.main(
            [
                "--algo",
                "processing_1",
                "--study",
                first.study_id,
                "--series",
                first.series_id,
                "--image",
                first.instance_id,
                "--env-file",
                str(env_file),
                "--out",
                str(out_dir),
                "--cache",
                str(out_dir / "ws-clients.json"),
                "--token-cache",
                str(out_dir / "tokens.json"),
                "--delete-client",
                "--timeout",
                "120",
            ]
        )
    line("pushed result", f"exit code {code}")
    block(captured.getvalue().strip())
    line("outputs downloaded to", out_dir)
    _seg_search(pacs_url, first.study_id, login)

    _poll_mode(cloud, first, login)


def _seg_search(pacs_url: str, study_id: str, login: TokenSource) -> None:
    """The job's result as DICOM: a QIDO-RS search for Modality=SEG in the source study."""
    response = httpx.get(
        f"{pacs_url}/studies/{study_id}/series",
        params={"Modality": "SEG"},
        headers={"Accept": "application/dicom+json", "Authorization": f"Bearer {login.id_token()}"},
        timeout=30,
    )
    found = response.json() if response.status_code == 200 else []
    series = [s.get("0020000E", {}).get("Value", ["?"])[0] for s in found]
    line(
        "SEG found by DICOMweb",
        f"GET /pacs/studies/{study_id}/series?Modality=SEG -> {response.status_code}, "
        f"series {', '.join(series) or 'none'}",
    )


def _poll_mode(cloud: LocalCloud, instance: Any, login: TokenSource) -> None:
    endpoints = Endpoints(cloud.outputs["RestApiUrl"], cloud.outputs["WebsocketUrl"])
    api = ws_client.RestApi(endpoints, login, timeout=40)
    client_id = api.provision("poll")["client_id"]
    try:
        job = api.submit(
            "processing_3",
            {
                "client_id": client_id,
                "pacs": {
                    "study_id": instance.study_id,
                    "series_id": instance.series_id,
                    "image_id": instance.instance_id,
                },
            },
        )
        line("poll mode", f"client {client_id}, job {job['job_id']} (processing_3)")
        deadline = time.monotonic() + 120
        feed = ws_client.ResultFeed(api, client_id)
        while time.monotonic() < deadline:
            results = feed.poll(wait_seconds=10)
            if results:
                line("polled result", f"GET /results?client_id={client_id}")
                block({k: v for k, v in results[0].items() if not k.endswith("_url")})
                line("overlay (presigned)", results[0].get("overlay_url"))
                return
        line("poll mode", "no result in time")
    finally:
        api.delete_client(client_id)  # nothing of the demo's lingers
