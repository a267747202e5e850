"""The PACS API as its container runs it (``python -m pacs_api``): serves, stops on SIGTERM with
exit 0, refuses a bad environment with exit 2."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.support.dicom_samples import ROOT, free_port

API_DIR = ROOT / "containers" / "pacs_api"


def spawn(env: dict[str, str]) -> subprocess.Popen[bytes]:
    environment = {k: v for k, v in os.environ.items() if k != "PACS_BUCKET"}
    environment.update(env)
    environment["PYTHONPATH"] = os.pathsep.join([str(API_DIR), str(ROOT / "layers" / "common")])
    return subprocess.Popen(
        [sys.executable, "-m", "pacs_api"],
        cwd=API_DIR,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_serves_health_then_stops_cleanly_on_sigterm() -> None:
    # Given
    port = free_port()
    process = spawn({"PACS_BUCKET": "pacs-bucket", "PORT": str(port), "ROOT_PATH": "/pacs"})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/pacs/health", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "the PACS API did not start"
                time.sleep(0.1)
        # When
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # Then
    assert health.json() == {"status": "ok"}
    assert code == 0


@pytest.mark.parametrize(
    "env", [{}, {"PACS_BUCKET": "pacs-bucket", "PORT": "99999"}, {"PACS_BUCKET": "p", "PORT": "1"}]
)
def test_a_bad_environment_exits_2(env: dict[str, str]) -> None:
    # When
    process = spawn(env)
    output = process.communicate(timeout=60)[0]
    # Then
    assert process.returncode == 2
    assert b"invalid environment" in output
