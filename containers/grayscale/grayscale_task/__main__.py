"""Container entrypoint: ``python -m grayscale_task`` (the Dockerfile's CMD)."""

from grayscale_task.task import main

raise SystemExit(main())
