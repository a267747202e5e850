"""Every link to patient data lives at most 5 minutes: each function that signs S3 URLs
defaults to 300 s and refuses a longer setting at cold start (issue 10)."""

from __future__ import annotations

import pydantic
import pytest

from tests.support.functions import load_function

# function folder -> (settings class, the setting, the other variables it needs)
SIGNERS = {
    "job_status": ("JobStatusSettings", "PRESIGN_EXPIRY_SECONDS", {"JOBS_TABLE": "JobsTable"}),
    "results_proxy": (
        "ResultsProxySettings",
        "PRESIGN_EXPIRY_SECONDS",
        {"CLIENTS_TABLE": "ClientsTable", "JOBS_TABLE": "JobsTable"},
    ),
    "image_status": (
        "ImageStatusSettings",
        "PRESIGN_EXPIRY_SECONDS",
        {"IMAGE_INPUT_BUCKET": "image-in", "IMAGE_OUTPUT_BUCKET": "image-out"},
    ),
    "video_frames": (
        "VideoFramesSettings",
        "PRESIGN_EXPIRY_SECONDS",
        {"VIDEO_INPUT_BUCKET": "video-in", "VIDEO_FRAMES_BUCKET": "video-frames"},
    ),
    "result_push": (
        "ResultPushSettings",
        "PRESIGN_EXPIRY_SECONDS",
        {"CONNECTIONS_TABLE": "Connections", "WEBSOCKET_ENDPOINT": "wss://ws.example/prod"},
    ),
    "upload_url": (
        "UploadUrlSettings",
        "UPLOAD_EXPIRY_SECONDS",
        {"IMAGE_INPUT_BUCKET": "image-in", "VIDEO_INPUT_BUCKET": "video-in"},
    ),
}


def settings_of(folder: str, monkeypatch: pytest.MonkeyPatch, **env: str) -> object:
    class_name, _, required = SIGNERS[folder]
    monkeypatch.setenv("OUTPUT_BUCKET", "output-bucket")
    for name, value in {**required, **env}.items():
        monkeypatch.setenv(name, value)
    module = load_function(folder, f"{folder}_settings")
    return getattr(module, class_name)()


@pytest.mark.parametrize("folder", sorted(SIGNERS))
def test_links_default_to_five_minutes(folder, monkeypatch):
    _, variable, _ = SIGNERS[folder]
    monkeypatch.delenv(variable, raising=False)

    settings = settings_of(folder, monkeypatch)

    assert getattr(settings, variable.lower()) == 300


@pytest.mark.parametrize("folder", sorted(SIGNERS))
def test_a_lifetime_over_five_minutes_is_refused(folder, monkeypatch):
    _, variable, _ = SIGNERS[folder]

    with pytest.raises(pydantic.ValidationError, match=variable.lower()):
        settings_of(folder, monkeypatch, **{variable: "301"})
