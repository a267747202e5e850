"""The local cloud's e2e scenarios against a deployed stack (skipped without AWS_SAM_STACK_NAME):
an image upload ends in one metrics message and a gray output, a job over REST is pushed over the
WebSocket (as a logged-in user, with a one-time ticket), the APIs refuse anonymous callers, and a
video upload ends in per-frame detections and a summary."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.support.waiting import wait_for

pytestmark = pytest.mark.cloud
# Fargate pulls the image and starts the task on first use: minutes, not seconds.
TASK_TIMEOUT = 600


def test_image_upload_ends_in_one_metrics_message_and_a_gray_output(
    session, outputs, watcher, unique_prefix
):
    from tests.support.image_samples import photo_jpeg

    # Given a real photo uploaded to the image input bucket
    s3 = session.client("s3")
    key = f"{unique_prefix}/bus.jpg"
    data = photo_jpeg()
    s3.put_object(Bucket=outputs["IMAGE_INPUT_BUCKET_NAME"], Key=key, Body=data)
    queue = watcher(outputs["IMAGE_PROCESSING_QUEUE_URL"])
    collected: list[dict[str, Any]] = []

    def arrived() -> list[dict[str, Any]]:
        collected.extend(queue.take(lambda m: (m.get("input") or {}).get("key") == key))
        return collected

    # When the pipeline has run
    [result] = wait_for(arrived, timeout=TASK_TIMEOUT, interval=1, what=f"metrics for {key}")

    # Then it succeeded with every stage timed, and the output is gray and the same size
    assert result["status"] == "SUCCEEDED", result
    assert set(result["timings_ms"]) >= {"download", "decode", "convert", "encode", "upload"}
    body = s3.get_object(Bucket=result["output"]["bucket"], Key=result["output"]["key"])["Body"]
    gray = Image.open(io.BytesIO(body.read()))
    assert gray.mode == "L"
    assert gray.size == Image.open(io.BytesIO(data)).size


def test_job_over_rest_is_pushed_over_the_websocket(session, outputs, user):
    from clients.env import Endpoints
    from clients.load import run_load
    from pacs_api.seed import seed_pacs

    # Given the PACS holds pydicom's CT sample and a push client is connected
    seeded = seed_pacs(outputs["PACS_BUCKET_NAME"], s3=session.client("s3"))
    ct = next(o for o in seeded if o.source == "CT_small.dcm")
    endpoints = Endpoints(
        rest_api_url=outputs["REST_API_URL"],
        websocket_url=outputs["WEBSOCKET_URL"],
        user_pool_id=outputs["USER_POOL_ID"],
        user_pool_client_id=outputs["USER_POOL_CLIENT_ID"],
        pacs_api_url=outputs.get("PACS_API_URL"),
    )
    pacs = {"study_id": ct.study_id, "series_id": ct.series_id, "image_id": ct.instance_id}

    # When it submits a job over REST
    report = asyncio.run(
        run_load(
            endpoints,
            auth=user.id_token,
            jobs=1,
            clients=1,
            pacs=pacs,
            algorithms=["processing_1"],
            timeout=TASK_TIMEOUT,
        )
    )

    # Then the result is pushed once, to that client, with measurements
    assert report.missing() == []
    assert report.misdelivered() == []
    result = next(iter(report.pushed.values()))[0][1]
    assert result["status"] == "DONE", result
    assert result["measurements"]["component_count"] > 0


def test_apis_refuse_anonymous_callers_and_serve_signed_in_ones(outputs, user):
    import requests

    # Given the REST API and the PACS behind the HTTP API (its JWT authorizer, VPC link, ALB)
    rest, pacs = outputs["REST_API_URL"], outputs["PACS_API_URL"]

    # When they are called without a token, then with the user's ID token
    anonymous = [
        requests.get(f"{rest}/algorithms", timeout=30),
        requests.get(f"{pacs}/studies", timeout=30),
    ]
    algorithms = requests.get(f"{rest}/algorithms", headers=user.rest_headers, timeout=30)
    studies = requests.get(f"{pacs}/studies", headers=user.bearer_headers, timeout=30)

    # Then the anonymous calls are 401 and the signed-in ones answer
    assert [r.status_code for r in anonymous] == [401, 401]
    assert algorithms.status_code == 200, algorithms.text
    assert studies.status_code == 200, studies.text
    assert "studies" in studies.json()


def test_video_upload_ends_in_detections_and_a_summary(
    session, outputs, watcher, unique_prefix, tmp_path: Path
):
    from pipeline_common.contracts.video import parse_video_message, video_id_for
    from tests.support.video_samples import make_video

    # Given a short video of a street scene (people and a bus) uploaded to the video bucket
    video = make_video(tmp_path / "bus.mp4", frames=20)
    bucket, key = outputs["VIDEO_INPUT_BUCKET_NAME"], f"{unique_prefix}/bus.mp4"
    put = session.client("s3").put_object(Bucket=bucket, Key=key, Body=video.read_bytes())
    video_id = video_id_for(bucket, key, put.get("VersionId") or put["ETag"].strip('"'))
    queue = watcher(outputs["VIDEO_PROCESSING_QUEUE_URL"])
    messages: list[Any] = []

    def summary() -> Any:
        for body in queue.take(lambda m: m.get("video_id") == video_id):
            messages.append(parse_video_message(json.dumps(body)))
        return next((m for m in messages if m.kind != "video.frame"), None)

    # When the extractor and the YOLO service have processed it
    final = wait_for(summary, timeout=TASK_TIMEOUT, interval=1, what=f"video {video_id}")

    # Then a summary follows per-frame results, and the COCO model found something
    assert final.kind == "video.summary", final
    frames = [m for m in messages if m.kind == "video.frame"]
    assert final.frames == len(frames) > 0
    assert final.class_counts, "the COCO model detected nothing in a street scene"
    assert any(frame.detections for frame in frames)
