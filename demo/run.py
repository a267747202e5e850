"""Bring the whole template up locally, drive every pipeline with real data, print where the
results are, and keep serving (the web console, the APIs) until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from demo import image_pipeline, job_pipeline, video_pipeline
from demo.report import line, section
from demo.users import demo_login
from localcloud import terminal_logs
from localcloud.cloud import LocalCloud

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.split("\n")[0])
    parser.add_argument("--exit", action="store_true", help="stop after driving the pipelines")
    parser.add_argument("--env-file", type=Path, default=ROOT / ".env.local")
    parser.add_argument("--out", type=Path, default=ROOT / "demo-output")
    args = parser.parse_args(argv)
    # The terminal shows the demo's own lines; library noise (moto logs every state a rejected
    # input fails, on purpose, as an ERROR) goes to .localcloud/logs/localcloud.log.
    terminal_logs.configure(ROOT / ".localcloud", terminal_level=logging.WARNING)

    # Parameters come from samconfig.toml's `local` environment (the model a package ships).
    cloud = LocalCloud(template_path=ROOT / "template.yaml", state_dir=ROOT / ".localcloud")
    section("Local cloud")
    cloud.up()
    try:
        cloud.wait_until_healthy()
        cloud.write_env_file(args.env_file)
        login = demo_login(args.env_file, cloud.client("cognito-idp"), args.out / "tokens.json")
        login.id_token()  # fail here, clearly, if the user cannot log in
        line("up in", f"{cloud.started_in:.1f} s from template.yaml")
        line("AWS endpoint (moto)", cloud.endpoint)
        line("IAM", "enforced: each function, state machine and task runs as its own role")
        line("REST API", cloud.outputs["RestApiUrl"])
        line("WebSocket API", cloud.outputs["WebsocketUrl"])
        line("services API (PACS)", cloud.outputs.get("ServicesApiUrl", "-"))
        line("endpoints file", args.env_file)
        line("demo user", f"{login.username} (password: DEMO_PASSWORD in {args.env_file})")
        line("logs", ROOT / ".localcloud" / "logs")

        image_pipeline.run(cloud, login)
        job_pipeline.run(cloud, args.env_file, args.out, login)
        video_pipeline.run(cloud, login)

        section("Where to look")
        if "WebConsoleUrl" in cloud.outputs:
            line("web console", cloud.outputs["WebConsoleUrl"])
        line("sign in as", f"{login.username}; the password is DEMO_PASSWORD in {args.env_file}")
        line("CLIs", f"log in as the user in {args.env_file.name}: .venv/bin/pipeline --help")
        if args.exit:
            return 0
        print("\nThe local cloud keeps running; Ctrl-C stops it.", flush=True)
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        stop.wait()
        return 0
    finally:
        cloud.down()
