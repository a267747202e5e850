"""The demo's terminal shows its own lines; library noise goes to the local cloud's log file."""

from __future__ import annotations

import logging

import pytest

from localcloud import terminal_logs


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_library_errors_go_to_the_file_and_our_lines_to_both(tmp_path, capsys, restore_logging):
    # Given the demo's logging
    path = terminal_logs.configure(tmp_path, terminal_level=logging.WARNING)

    # When moto's interpreter logs a failed state and the local cloud warns
    logging.getLogger("moto.stepfunctions.parser.asl").error("state object {'Input': ...}")
    logging.getLogger("localcloud.containers").warning("task exited 1")
    logging.getLogger("demo").info("an info line below the terminal level")

    # Then the terminal shows only the local cloud's warning
    terminal = capsys.readouterr().err
    assert "task exited 1" in terminal
    assert "state object" not in terminal
    assert "info line" not in terminal
    # and the file keeps everything, library lines included
    logged = path.read_text()
    for line in ("state object", "task exited 1", "info line"):
        assert line in logged
    assert path == tmp_path / "logs" / "localcloud.log"
