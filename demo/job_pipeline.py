"""Drive the medical job pipeline: seed the PACS, then a push-mode job over the WebSocket (the
shipped CLI) and a poll-mode job over ``GET /results``."""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path
from typing import Any

import requests

from clients import ws_client
from demo.report import block, line, section
from localcloud.cloud import LocalCloud
from pacs_api.seed import seed_pacs


def run(cloud: LocalCloud, env_file: Path, out_dir: Path) -> None:
    section("Job API: REST -> FIFO queue -> DICOM worker -> SNS/SQS -> WebSocket push and polling")
    outcomes = seed_pacs(cloud.outputs["PacsBucketName"], s3=cloud.client("s3"))
    line("PACS seeded", f"{len(outcomes)} real DICOM instances (pydicom's test files)")
    first = next(o for o in outcomes if "CT" in o.source) if outcomes else None
    if first is None:
        line("skipped", "no DICOM instance to process")
        return
    line("instance", f"{first.source}: study {first.study_id}")
    line(
        "PACS preview",
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
                "--timeout",
                "120",
            ]
        )
    line("pushed result", f"exit code {code}")
    block(captured.getvalue().strip())
    line("outputs downloaded to", out_dir)

    _poll_mode(cloud, first)


def _poll_mode(cloud: LocalCloud, instance: Any) -> None:
    api, key = cloud.outputs["RestApiUrl"], cloud.outputs["RestApiKey"]
    headers = {"x-api-key": key}
    client = requests.post(f"{api}/clients", json={"delivery": "poll"}, headers=headers, timeout=30)
    client.raise_for_status()
    client_id = client.json()["client_id"]
    job = requests.post(
        f"{api}/process/processing_3",
        json={
            "client_id": client_id,
            "pacs": {
                "study_id": instance.study_id,
                "series_id": instance.series_id,
                "image_id": instance.instance_id,
            },
        },
        headers=headers,
        timeout=30,
    )
    job.raise_for_status()
    line("poll mode", f"client {client_id}, job {job.json()['job_id']} (processing_3)")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        polled = requests.get(
            f"{api}/results", params={"client_id": client_id}, headers=headers, timeout=40
        )
        polled.raise_for_status()
        results = polled.json().get("results", [])
        if results:
            line("polled result", f"GET /results?client_id={client_id}")
            block({k: v for k, v in results[0].items() if not k.endswith("_url")})
            line("overlay (presigned)", results[0].get("overlay_url"))
            return
    line("poll mode", "no result in time")
