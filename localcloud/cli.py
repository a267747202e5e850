"""``python -m localcloud``: the local cloud's command line.

up       bring template.yaml up and keep it running until Ctrl-C (or ``down``)
down     stop a running ``up`` (every process it started goes with it)
invoke   the Docker-free ``sam local invoke``: one function, one event file
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

from localcloud import terminal_logs
from localcloud.cloud import LocalCloud
from localcloud.errors import LocalCloudError
from localcloud.runtime import FunctionError

DEFAULT_TEMPLATE = Path("template.yaml")
DEFAULT_STATE = Path(".localcloud")
DEFAULT_ENV_FILE = Path(".env.local")


def _parameter_overrides(values: list[str]) -> dict[str, str]:
    overrides = {}
    for value in values:
        name, sep, setting = value.partition("=")
        if not sep:
            raise SystemExit(f"--parameter-overrides expects Name=Value, got {value!r}")
        overrides[name] = setting
    return overrides


def cmd_up(args: argparse.Namespace) -> int:
    if args.wipe and args.state_dir.exists():
        shutil.rmtree(args.state_dir)
    # Library lines (moto, botocore, werkzeug) go to the log file; the terminal shows ours.
    terminal_logs.configure(args.state_dir, terminal_level=logging.INFO, verbose=args.verbose)
    cloud = LocalCloud(
        template_path=args.template,
        state_dir=args.state_dir,
        stack_name=args.stack_name,
        parameter_overrides=_parameter_overrides(args.parameter_overrides),
        iam=not args.no_iam,
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        cloud.up()
    except LocalCloudError as exc:
        print(f"localcloud: {exc}", file=sys.stderr)
        cloud.down()
        return 2
    cloud.write_env_file(args.env_file)
    pid_file = args.state_dir / "localcloud.pid"
    pid_file.write_text(str(os.getpid()))
    print(f"local cloud up in {cloud.started_in:.1f} s ({args.template})")
    if args.no_iam:
        print("!! --no-iam: IAM IS NOT ENFORCED; every function and task runs as the administrator")
    else:
        print("IAM enforced: each function, state machine and task runs as its own role")
    for name, value in sorted(cloud.outputs.items()):
        print(f"  {name:32} {value}")
    print(f"endpoints written to {args.env_file}; logs in {args.state_dir / 'logs'}; Ctrl-C stops")
    try:
        stop.wait()
    finally:
        print("stopping the local cloud ...")
        cloud.down()
        with contextlib.suppress(FileNotFoundError):
            pid_file.unlink()
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    pid_file = args.state_dir / "localcloud.pid"
    try:
        pid = int(pid_file.read_text())
    except FileNotFoundError:
        print("no local cloud is running (no pid file)")
        return 0
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            os.kill(pid, 0)
            time.sleep(0.2)
    print(f"local cloud (pid {pid}) stopped")
    if args.wipe and args.state_dir.exists():
        shutil.rmtree(args.state_dir)
    return 0


def cmd_invoke(args: argparse.Namespace) -> int:
    event = json.loads(Path(args.event).read_text()) if args.event else {}
    cloud = LocalCloud(
        template_path=args.template,
        state_dir=args.state_dir,
        stack_name=args.stack_name,
        parameter_overrides=_parameter_overrides(args.parameter_overrides),
        drive_events=False,
        function_logs_to_files=False,
        iam=not args.no_iam,
    )
    try:
        cloud.up()
        if args.function not in cloud.runtime.functions:
            print(
                f"no function {args.function!r}; the template has: "
                + ", ".join(cloud.runtime.functions),
                file=sys.stderr,
            )
            return 2
        try:
            response = cloud.invoke(args.function, event)
        except FunctionError as exc:
            print(json.dumps(exc.payload(), indent=2))
            return 1
        print(json.dumps(response, indent=2))
        return 0
    finally:
        cloud.down()


def main(argv: list[str] | None = None) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--template", "-t", type=Path, default=DEFAULT_TEMPLATE)
    common.add_argument("--state-dir", type=Path, default=DEFAULT_STATE)
    common.add_argument("--stack-name", default="pipeline-local")
    common.add_argument("--parameter-overrides", nargs="*", default=[], metavar="NAME=VALUE")
    common.add_argument("-v", "--verbose", action="store_true")
    common.add_argument(
        "--no-iam",
        action="store_true",
        help="debugging only: do not enforce IAM (every process runs as the administrator)",
    )
    parser = argparse.ArgumentParser(prog="localcloud", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", parents=[common], help="bring the template up until Ctrl-C")
    up.add_argument("--env-file", type=Path, default=DEFAULT_ENV_FILE)
    up.add_argument("--wipe", action="store_true", help="delete the state folder (logs) first")
    up.set_defaults(run=cmd_up)
    down = commands.add_parser("down", parents=[common], help="stop a running local cloud")
    down.add_argument("--wipe", action="store_true", help="also delete the state folder")
    down.set_defaults(run=cmd_down)
    invoke = commands.add_parser(
        "invoke", parents=[common], help="invoke one function with an event file"
    )
    invoke.add_argument("function", help="logical id, e.g. ImageDispatcherFunction")
    invoke.add_argument("-e", "--event", help="event JSON file, e.g. events/router_process.json")
    invoke.set_defaults(run=cmd_invoke)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    for noisy in ("werkzeug", "botocore", "urllib3", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return int(args.run(args))
    except LocalCloudError as exc:
        print(f"localcloud: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
