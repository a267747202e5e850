"""Drive the medical job pipeline: seed the PACS, then a push-mode job over the WebSocket (the
shipped CLI, logged in as the demo user from the env file) and a poll-mode job over
``GET /results`` (the same user)."""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path
from typing import Any

from clients import ws_client
from clients.auth import TokenSource
from clients.env import Endpoints
from demo.report import block, line, section
from localcloud.cloud import LocalCloud
from pacs_api.seed import seed_pacs


def run(cloud: LocalCloud, env_file: Path, out_dir: Path, login: TokenSource) -> None:
    section("Job API: REST -> FIFO queue -> DICOM worker -> SNS/SQS -> WebSocket push and polling")
    outcomes = seed_pacs(cloud.outputs["PacsBucketName"], s3=cloud.client("s3"))
    line("PACS seeded", f"{len(outcomes)} real DICOM instances (pydicom's test files)")
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

    _poll_mode(cloud, first, login)


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
        while time.monotonic() < deadline:
            results = api.results(client_id)
            if results:
                line("polled result", f"GET /results?client_id={client_id}")
                block({k: v for k, v in results[0].items() if not k.endswith("_url")})
                line("overlay (presigned)", results[0].get("overlay_url"))
                return
        line("poll mode", "no result in time")
    finally:
        api.delete_client(client_id)  # its queue too: nothing of the demo's lingers
