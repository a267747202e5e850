"""Root test configuration: the common layer on sys.path, fake AWS credentials, one region."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws
from moto.core.config import DefaultConfig

ROOT = Path(__file__).resolve().parents[1]
CONTAINERS = ROOT / "containers"
for path in (
    ROOT / "layers" / "common",
    ROOT,
    *(folder for folder in sorted(CONTAINERS.iterdir()) if folder.is_dir()),
):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

# Tests never reach AWS: fake credentials and a fixed region before any client exists. The opt-in
# cloud suite (AWS_SAM_STACK_NAME set) keeps the caller's real credentials.
if not os.environ.get("AWS_SAM_STACK_NAME"):
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_REGION", "us-east-1")
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    os.environ.pop("AWS_PROFILE", None)
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ImageVideoPipeline")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "tests")

from pipeline_common import aws  # noqa: E402  (importable once the layer is on sys.path)


@pytest.fixture
def moto_config() -> DefaultConfig | None:
    """moto's settings for ``mocked_aws``; a module that needs others (e.g. Step Functions that
    run their states) overrides this fixture."""
    return None


@pytest.fixture
def mocked_aws(moto_config: DefaultConfig | None) -> Iterator[None]:
    """Every AWS call in the test goes to moto. The layer caches boto3 clients per process, so
    they are dropped on entry and exit: a client made against one mock never outlives it."""
    with mock_aws(config=moto_config):
        aws.clear_clients()
        yield
    aws.clear_clients()
