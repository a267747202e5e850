"""The local cloud's e2e scenarios against a deployed stack (skipped without AWS_SAM_STACK_NAME):
the APIs refuse anonymous callers, and a video upload ends in per-frame detections and a summary.
The job push and image scenarios are shared with the e2e tier (``any_stack`` in
tests/e2e/test_job_pipeline.py and test_image_pipeline.py, run with ``-m cloud``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.waiting import wait_for

pytestmark = pytest.mark.cloud
# Fargate pulls the image and starts the task on first use: minutes, not seconds.
TASK_TIMEOUT = 600


def test_apis_refuse_anonymous_callers_and_serve_signed_in_ones(deployed, user):
    import requests

    # Given the REST API and the PACS behind the HTTP API (its JWT authorizer, VPC link, ALB)
    rest, pacs = deployed.outputs["RestApiUrl"], deployed.outputs["PacsApiUrl"]

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
    deployed, watcher, unique_prefix, tmp_path: Path
):
    from pipeline_common.contracts.video import parse_video_message, video_id_for
    from tests.support.video_samples import make_video

    # Given a short video of a street scene (people and a bus) uploaded to the video bucket
    video = make_video(tmp_path / "bus.mp4", frames=20)
    bucket, key = deployed.outputs["VideoInputBucketName"], f"{unique_prefix}/bus.mp4"
    put = deployed.client("s3").put_object(Bucket=bucket, Key=key, Body=video.read_bytes())
    video_id = video_id_for(bucket, key, put.get("VersionId") or put["ETag"].strip('"'))
    queue = watcher(deployed.outputs["VideoProcessingQueueUrl"])
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
