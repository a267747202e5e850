"""``python -m frame_extractor``: one ECS task run per video (started by the ingest state
machine). Exit 0 done, 2 input rejected (failure message sent), 1 crash."""

from __future__ import annotations

import sys

from pydantic import ValidationError

from frame_extractor.errors import EXIT_CRASH, InputRejected, exit_code
from frame_extractor.ingest import FrameIngest
from frame_extractor.settings import Settings
from pipeline_common import aws
from pipeline_common.observability import logger


def main() -> int:
    try:
        settings = Settings()  # type: ignore[call-arg]
    except ValidationError as exc:
        print(f"frame_extractor: invalid environment: {exc}", file=sys.stderr)
        return EXIT_CRASH
    ingest = FrameIngest(
        settings, s3=aws.client("s3"), kinesis=aws.client("kinesis"), sqs=aws.client("sqs")
    )
    try:
        ingest.run()
    except InputRejected as exc:
        print(f"frame_extractor: input rejected: {exc}", file=sys.stderr)
        return exit_code(exc)
    except Exception as exc:
        logger.exception("ingest crashed", extra={"video_id": settings.video_id})
        return exit_code(exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
