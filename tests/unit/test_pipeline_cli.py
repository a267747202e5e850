"""The `pipeline` command: its tree, the options every subcommand shares, --json, progress, and
the old module entry points parsing what they always parsed."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from clients import cli, load, pacs, video_consumer, video_producer, ws_client
from clients.env import DEFAULT_ENV_FILE
from tools import gen_env, users

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / ".venv" / "bin" / "pipeline"

JOB_ARGS = ["--algo", "processing_1", "--study", "s1", "--series", "r1", "--image", "i1"]

# Every leaf of the tree, with the arguments it needs and the function it runs.
LEAVES: list[tuple[list[str], Any]] = [
    (["jobs", "submit", *JOB_ARGS], ws_client.run),
    (["jobs", "wait", "7c9e6679742540de944be07fc1f90ae7"], ws_client.run_wait),
    (["pacs", "import", "a.dcm", "folder"], pacs.run_import_command),
    (["video", "produce", "clip.mp4", "--max-rate"], video_producer.produce),
    (["video", "consume", "--video-id", "v1"], video_consumer.consume),
    (["load", "--study", "s", "--series", "r", "--image", "i"], load.run),
    (["users", "create", "alice", "--admin"], users.run),
    (["users", "delete", "alice"], users.run),
    (["outputs", "--stack-name", "pipeline"], gen_env.run),
]


LEAF_IDS = [" ".join(argv[:2]) for argv, _ in LEAVES]


def _parse(argv: list[str]) -> argparse.Namespace:
    return cli.build_parser().parse_args(argv)


@pytest.mark.parametrize(("argv", "runner"), LEAVES, ids=LEAF_IDS)
def test_each_subcommand_parses_to_its_modules_run(argv: list[str], runner: Any) -> None:
    # When
    args = _parse(argv)
    # Then
    assert args.run is runner
    assert args.json is False
    assert args.quiet is False
    assert args.verbose == 0


@pytest.mark.parametrize(("argv", "runner"), LEAVES, ids=LEAF_IDS)
def test_every_subcommand_takes_the_common_options(argv: list[str], runner: Any) -> None:
    # Given: the common options, env file aside for `outputs` (it writes one, reads none)
    common = ["--json", "-vv", "--quiet"]
    if argv[0] != "outputs":
        common += ["--env-file", "x.env"]
    # When
    args = _parse([*argv, *common])
    # Then
    assert (args.json, args.verbose, args.quiet) == (True, 2, True)
    if argv[0] != "outputs":
        assert args.env_file == Path("x.env")


def test_env_file_defaults() -> None:
    assert _parse(LEAVES[0][0]).env_file == DEFAULT_ENV_FILE
    assert _parse(["users", "delete", "a"]).env_file == Path(".env.local")


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["jobs"],
        ["jobs", "submit", "--algo", "processing_1", "--study", "s", "--series", "r"],
        ["pacs", "import"],
        ["pacs", "import", "a.dcm", "--batch-size", "0"],
        ["video", "produce", "clip.mp4", "--fps", "5", "--max-rate"],
        ["outputs"],
        ["nope"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        cli.main(argv)
    assert raised.value.code == 2
    assert capsys.readouterr().out == ""


# ---- the old entry points -----------------------------------------------------------------


def test_old_ws_client_arguments_still_parse() -> None:
    args = ws_client.parse_args([*JOB_ARGS, "--env-file", "e", "--no-download", "--timeout", "5"])
    assert (args.algo, args.image, args.env_file, args.no_download, args.timeout) == (
        "processing_1",
        "i1",
        Path("e"),
        True,
        5.0,
    )


def test_old_users_and_gen_env_arguments_still_parse() -> None:
    created = users.parse_args(
        ["create", "bob", "--env-file", "e", "--json", "--write-credentials"]
    )
    gone = users.parse_args(["delete", "bob"])
    stack = gen_env.parse_args(["--stack-name", "s", "--output", "o", "--web-config", "w.json"])
    assert (created.command, created.username, created.json, created.write_credentials) == (
        "create",
        "bob",
        True,
        True,
    )
    assert (gone.command, gone.env_file) == ("delete", Path(".env.local"))
    assert (stack.stack_name, stack.output, stack.web_config) == ("s", Path("o"), Path("w.json"))


@pytest.mark.parametrize(
    ("module", "runner", "argv", "expected"),
    [
        (pacs, "run_import_command", ["import", "a.dcm", "--json", "--token", "t"], {"json": True}),
        (
            load,
            "run",
            ["--study", "s", "--series", "r", "--image", "i", "--jobs", "3"],
            {"jobs": 3},
        ),
        (video_producer, "produce", ["0", "--every-n", "2"], {"source": "0", "every_n": 2}),
        (video_consumer, "consume", ["--idle-exit", "5"], {"idle_exit": 5.0}),
    ],
    ids=["pacs", "load", "video_producer", "video_consumer"],
)
def test_old_module_mains_parse_and_call_the_same_run(
    module: Any,
    runner: str,
    argv: list[str],
    expected: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given: the module's run replaced by a recorder
    seen: list[argparse.Namespace] = []
    monkeypatch.setattr(module, runner, lambda args: seen.append(args) or 0)
    # When
    code = module.main(argv)
    # Then
    assert code == 0
    assert {key: getattr(seen[0], key) for key in expected} == expected


# ---- output ---------------------------------------------------------------------------------


def test_outputs_json_is_one_document_on_stdout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given: a stack whose outputs are read without AWS
    stack = gen_env.StackEnv("pipeline", "eu-west-1", {"REST_API_URL": "https://x/", "A": "b"})
    monkeypatch.setattr(gen_env, "read_stack_env", lambda name, session=None: stack)
    target = tmp_path / ".env.cloud"
    # When
    code = cli.main(["outputs", "--stack-name", "pipeline", "--output", str(target), "--json"])
    # Then
    out = capsys.readouterr().out
    assert code == 0
    assert json.loads(out) == {
        "stack_name": "pipeline",
        "region": "eu-west-1",
        "output": str(target),
        "web_config": None,
        "keys": ["A", "REST_API_URL"],
    }
    assert "REST_API_URL=https://x/" in target.read_text()


def test_outputs_quiet_prints_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = gen_env.StackEnv("pipeline", "eu-west-1", {"A": "b"})
    monkeypatch.setattr(gen_env, "read_stack_env", lambda name, session=None: stack)
    code = cli.main(["outputs", "--stack-name", "p", "--output", str(tmp_path / "e"), "--quiet"])
    assert code == 0
    assert capsys.readouterr() == ("", "")


def test_job_result_json_adds_the_saved_files_and_nothing_else(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given: a finished job, nothing to download
    args = _parse(["jobs", "wait", "j1", "--json", "--no-download"])
    result = {"job_id": "j1", "status": "DONE", "detections": 2}
    # When
    code = ws_client._finish(args, api=None, result=result)  # type: ignore[arg-type]
    # Then
    captured = capsys.readouterr()
    assert code == ws_client.EXIT_DONE
    assert json.loads(captured.out) == {**result, "saved": []}
    assert captured.err == ""


def test_a_failed_job_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(["jobs", "wait", "j1", "--no-download"])
    assert ws_client._finish(args, None, {"job_id": "j1", "status": "FAILED"}) == 1  # type: ignore[arg-type]
    assert json.loads(capsys.readouterr().out)["status"] == "FAILED"


# ---- progress -------------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal_without_json_or_quiet() -> None:
    plain = _parse(LEAVES[0][0])
    as_json = _parse([*LEAVES[0][0], "--json"])
    quiet = _parse([*LEAVES[0][0], "--quiet"])
    assert cli.progress_enabled(plain, _Terminal())
    assert not cli.progress_enabled(plain, io.StringIO())
    assert not cli.progress_enabled(as_json, _Terminal())
    assert not cli.progress_enabled(quiet, _Terminal())


def test_progress_bar_is_disabled_and_silent_when_stderr_is_not_a_tty(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given: pytest's captured stderr, which is not a terminal
    args = _parse(LEAVES[2][0])
    # When
    with cli.progress(args, total=10, desc="importing", unit="B") as bar:
        bar.update(10)
    # Then
    assert bar.disable
    assert capsys.readouterr() == ("", "")


def test_progress_bar_draws_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with cli.progress(_parse(LEAVES[2][0]), total=4, desc="importing", unit="file") as bar:
        bar.update(4)
    assert "importing" in terminal.getvalue()


# ---- the installed console script -----------------------------------------------------------


def test_installed_pipeline_help_lists_every_command() -> None:
    assert PIPELINE.exists(), "`make setup` installs the pipeline command into .venv"
    done = subprocess.run(
        [str(PIPELINE), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0
    for command in ("jobs", "pacs", "video", "load", "users", "outputs"):
        assert command in done.stdout


def test_installed_pipeline_usage_error_exits_2() -> None:
    done = subprocess.run(
        [str(PIPELINE), "video", "produce"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "usage: pipeline video produce" in done.stderr
