"""A missing or unreadable model stops the service at start with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.video_samples import ROOT, use_container

use_container("yolo_stream")

from yolo_stream.detection import DetectorConfig, load_detector  # noqa: E402
from yolo_stream.errors import ModelLoadError  # noqa: E402


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("absent.onnx", None, "does not exist"),
        ("empty.onnx", b"", "is empty"),
        ("garbage.onnx", b"\x08\x07 not a protobuf model", "not a loadable ONNX model"),
        ("weights.pt", b"x", "is not a .onnx file"),
    ],
)
def test_bad_model_files_fail_at_load(tmp_path: Path, name, content, message):
    # Given a model path that is missing, empty, garbage or of the wrong kind
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)

    # When the default backend loads it
    # Then a ModelLoadError names the file and the problem
    with pytest.raises(ModelLoadError, match=message):
        load_detector(DetectorConfig(model_path=str(path)))


def test_service_exits_at_start_when_the_model_is_missing(tmp_path: Path):
    # Given a complete environment whose YOLO_MODEL does not exist
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT / "containers" / "yolo_stream"), str(ROOT / "layers" / "common")]
        ),
        "STREAM_NAME": "s",
        "CHECKPOINT_TABLE": "t",
        "FRAMES_BUCKET": "bucket",
        "RESULTS_QUEUE_URL": "http://localhost/q",
        "YOLO_MODEL": str(tmp_path / "missing.onnx"),
        "PORT": "0",
    }

    # When the service starts
    done = subprocess.run(
        [sys.executable, "-m", "yolo_stream"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT / "containers" / "yolo_stream",
    )

    # Then it exits at once (code 3) saying why, before reading any frame
    assert done.returncode == 3
    assert "missing.onnx' does not exist" in done.stderr
