"""The `pipeline` command: one entry point for every client of the pipeline.

    pipeline jobs submit   --algo ... --study ... --series ... --image ...
    pipeline jobs wait     JOB_ID
    pipeline pacs import   PATH...
    pipeline video produce SOURCE
    pipeline video consume [--video-id ID]
    pipeline load          --study ... --series ... --image ...
    pipeline users create|delete USERNAME
    pipeline outputs       --stack-name NAME

Each subcommand is the same `add_arguments`/`run` pair that its module's own entry point
(`python -m clients.ws_client`, ...) uses, so the two never drift apart. Every subcommand takes the
same `--env-file`, `--json`, `-v/--verbose` and `--quiet`; exit codes are 0 ok, 1 failure, 2 usage
(and 3, a job that did not finish in time).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

Runner = Callable[[argparse.Namespace], int]


def add_common_options(parser: argparse.ArgumentParser, *, env_file: Path | None) -> None:
    """The options every command takes; `env_file=None` for a command that reads no env file."""
    group = parser.add_argument_group("common")
    if env_file is not None:
        group.add_argument(
            "--env-file", type=Path, default=env_file, help=f"endpoints (default: {env_file})"
        )
    group.add_argument(
        "--json", action="store_true", help="print one JSON document on stdout, nothing else"
    )
    group.add_argument("-v", "--verbose", action="count", default=0, help="more log lines")
    group.add_argument("--quiet", action="store_true", help="only errors on stderr")


def progress_enabled(args: argparse.Namespace, stream: TextIO | None = None) -> bool:
    """Bars only for a person watching: never with --json or --quiet, nor into a pipe or log."""
    stream = stream or sys.stderr
    if getattr(args, "json", False) or getattr(args, "quiet", False):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def progress(
    args: argparse.Namespace, *, total: float | None, desc: str, unit: str = "it", **extra: Any
) -> tqdm:
    """A progress bar on stderr (disabled, and silent, where `progress_enabled` says so)."""
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        disable=not progress_enabled(args),
        leave=False,
        dynamic_ncols=True,
        **extra,
    )


def say(args: argparse.Namespace, message: str) -> None:
    """A human line on stderr, unless --quiet."""
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr)


def emit(args: argparse.Namespace, document: Any, text: str | None = None) -> None:
    """The command's answer on stdout: the JSON document with --json, else `text` (or the JSON)."""
    if getattr(args, "json", False) or text is None:
        print(json.dumps(document, indent=2, default=str))
    else:
        print(text)


def configure_logging(args: argparse.Namespace) -> None:
    verbose = getattr(args, "verbose", 0)
    level = logging.ERROR if getattr(args, "quiet", False) else logging.WARNING
    if verbose:
        level = logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )


def module_parser(
    prog: str,
    description: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    *,
    env_file: Path | None,
) -> argparse.ArgumentParser:
    """The parser of a module's own entry point (`python -m clients.x`)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_arguments(parser)
    add_common_options(parser, env_file=env_file)
    return parser


def run_module(
    prog: str,
    description: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    run: Runner,
    argv: list[str] | None,
    *,
    env_file: Path | None,
) -> int:
    """A module's own entry point: the same arguments and `run` as its `pipeline` subcommand."""
    return invoke(module_parser(prog, description, add_arguments, env_file=env_file), run, argv)


def invoke(parser: argparse.ArgumentParser, run: Runner | None, argv: list[str] | None) -> int:
    args = parser.parse_args(argv)
    run = run or args.run
    check = getattr(args, "check", None)
    if check is not None:
        problem = check(args)
        if problem:
            parser.error(problem)
    configure_logging(args)
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130


# ---- the command tree ------------------------------------------------------------------------

GROUPS = {
    "jobs": "submit jobs and wait for their results",
    "pacs": "the PACS (DICOMweb) store",
    "video": "stream video to Kinesis and read its results",
    "users": "manage Cognito users",
}


def _commands() -> list[tuple[str, str, Callable[[argparse.ArgumentParser], None], Runner, Any]]:
    """(path, help, add_arguments, run, env file default) of every subcommand."""
    # Imported here, not at the top: the modules import this one for the shared options.
    from clients import load, pacs, video_consumer, video_producer, ws_client
    from clients.env import DEFAULT_ENV_FILE as ENV
    from tools import gen_env, users

    return [
        (
            "jobs submit",
            "submit a job and wait for its result over the WebSocket; download its outputs",
            ws_client.add_arguments,
            ws_client.run,
            ENV,
        ),
        (
            "jobs wait",
            "wait for a job already submitted and print its result",
            ws_client.add_wait_arguments,
            ws_client.run_wait,
            ENV,
        ),
        (
            "pacs import",
            "store DICOM files and folders via STOW-RS",
            pacs.add_import_arguments,
            pacs.run_import_command,
            ENV,
        ),
        (
            "video produce",
            "stream a video file or camera to the frame stream",
            video_producer.add_arguments,
            video_producer.produce,
            ENV,
        ),
        (
            "video consume",
            "read per-frame results and video summaries",
            video_consumer.add_arguments,
            video_consumer.consume,
            ENV,
        ),
        (
            "load",
            "submit many jobs over several clients and report latencies",
            load.add_arguments,
            load.run,
            ENV,
        ),
        (
            "users create",
            "create a user (idempotent)",
            users.add_create_arguments,
            users.run,
            users.DEFAULT_ENV_FILE,
        ),
        (
            "users delete",
            "delete a user",
            users.add_delete_arguments,
            users.run,
            users.DEFAULT_ENV_FILE,
        ),
        (
            "outputs",
            "write the endpoints env file from a deployed stack's outputs",
            gen_env.add_arguments,
            gen_env.run,
            None,  # it writes an env file (--output) and reads none
        ),
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pipeline", description="Submit jobs, import DICOM, stream video, manage users."
    )
    top = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    groups: dict[str, Any] = {}
    for path, help_text, add_arguments, run, env_file in _commands():
        group, _, action = path.partition(" ")
        commands, name = top, group
        if action:
            if group not in groups:
                holder = top.add_parser(group, help=GROUPS[group], description=GROUPS[group])
                groups[group] = holder.add_subparsers(
                    dest="command", required=True, metavar="ACTION"
                )
            commands, name = groups[group], action
        leaf: argparse.ArgumentParser = commands.add_parser(
            name, help=help_text, description=help_text
        )
        add_arguments(leaf)
        add_common_options(leaf, env_file=env_file)
        leaf.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    return invoke(build_parser(), None, argv)


if __name__ == "__main__":
    sys.exit(main())
