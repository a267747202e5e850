"""``python -m yolo_stream``: load the model (failing at once if it cannot), start the shard
consumers and serve /health and /status on ``PORT`` until SIGTERM."""

from __future__ import annotations

import signal
import sys
import threading

from pydantic import ValidationError

from pipeline_common.observability import logger
from yolo_stream.detection import load_detector
from yolo_stream.errors import ModelLoadError
from yolo_stream.http_server import make_server, serve_in_background
from yolo_stream.service import YoloStreamService
from yolo_stream.settings import Settings

EXIT_BAD_CONFIG = 3


def main() -> int:
    try:
        settings = Settings()  # type: ignore[call-arg]
        detector = load_detector(settings.detector_config())
    except (ValidationError, ModelLoadError) as exc:
        logger.error("cannot start", extra={"reason": str(exc)})
        print(f"yolo_stream: cannot start: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    logger.info(
        "model loaded",
        extra={
            "model": detector.model_id,
            "backend": detector.backend,  # what runs: "auto" resolved, fallbacks taken
            "setting": settings.yolo_backend,
        },
    )
    service = YoloStreamService(settings, detector)
    server = make_server(service, settings.port)
    stopping = threading.Event()

    def _terminate(signum: int, _frame: object) -> None:
        logger.info("stopping", extra={"signal": signum})
        stopping.set()

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    service.start()
    serve_in_background(server)
    logger.info("serving", extra={"port": server.server_address[1]})
    stopping.wait()
    server.shutdown()
    service.stop()  # finishes the current record and releases the shard leases
    return 0


if __name__ == "__main__":
    sys.exit(main())
