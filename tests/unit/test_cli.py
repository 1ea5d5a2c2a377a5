"""The command line's common behaviour: exit statuses, one JSON document, one-line errors, log format."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.core.settings import Settings
from workstation.cli import build_parser, log_format_for, main


def test_every_subcommand_exists():
    parser = build_parser()
    for command in ("mirror", "population", "analyze", "run"):
        assert parser.parse_args([command]).command == command


def test_bad_configuration_exits_2_with_a_one_line_error(capsys, monkeypatch):
    # GIVEN an invalid store in the environment
    monkeypatch.setenv("DATA_STORE", "gs://bucket")
    # WHEN any command runs
    status = main(["mirror"])
    # THEN it stops before doing anything, with the variable named on one line
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    error_lines = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert error_lines == ["error: DATA_STORE: 'gs://bucket' is neither a local folder nor s3://bucket[/prefix]"]


def test_json_mode_prints_exactly_one_document_even_on_failure(capsys):
    status = main(["population", "--json", "--store", "ftp://nowhere"])
    captured = capsys.readouterr()
    assert status == 2
    assert json.loads(captured.out) == {
        "error": "--store: 'ftp://nowhere' is neither a local folder nor s3://bucket[/prefix]",
        "error_type": "ConfigError",
    }


def test_flags_override_environment(monkeypatch):
    from workstation.cli import settings_from_args

    monkeypatch.setenv("REPORT_SERIES_ID", "PRS30006011")
    args = build_parser().parse_args(["analyze", "--series", "prs85006092", "--years", "2014-2015"])
    settings = settings_from_args(args)
    assert settings.report_series_id == "PRS85006092"
    assert (settings.report_start_year, settings.report_end_year) == (2014, 2015)


def test_structured_log_line_is_one_json_object(capsys):
    from chalicelib.core.log import log_event

    log_event("file_added", key="bls/pr/pr.class", bytes=102)
    [line] = capsys.readouterr().err.splitlines()
    record = json.loads(line)
    assert (record["event"], record["key"], record["bytes"], record["level"]) == (
        "file_added", "bls/pr/pr.class", 102, "INFO")
    assert record["service"] == "bls-pipeline"


@pytest.mark.parametrize("argv", [["--help"], ["mirror", "--help"]])
def test_help_exits_0(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_structured_logs_survive_the_chalice_app(capsys):
    # GIVEN the Chalice app is imported (Chalice configures a logger named after the app)
    import app  # noqa: F401

    from chalicelib.core.log import log_event

    # WHEN an INFO event is logged
    log_event("run_start", step="mirror")
    # THEN it still comes out as one JSON line on stderr, not silenced or printed to stdout
    captured = capsys.readouterr()
    assert captured.out == ""
    assert json.loads(captured.err.splitlines()[-1])["event"] == "run_start"


# --------------------------------------------------------------------------- log format on a terminal

REPO = Path(__file__).resolve().parent.parent
CLI = "import sys; from workstation.cli import main; sys.exit(main())"


def on_terminal(args: list[str], tmp_path: Path, **env: str) -> tuple[int, list[str]]:
    """Run `bls-pipeline ARGS` with stdin, stdout and stderr on a pseudo-terminal; (status, lines seen)."""
    environment = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "TERM": "xterm", **env}
    main_fd, child_fd = pty.openpty()
    process = subprocess.Popen([sys.executable, "-c", CLI, *args], stdin=child_fd, stdout=child_fd,
                               stderr=child_fd, cwd=REPO, env=environment, close_fds=True)
    os.close(child_fd)
    received = bytearray()
    while True:
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        received += chunk
    status = process.wait(timeout=120)
    os.close(main_fd)
    text = received.decode("utf-8", errors="replace").replace("\x1b[K", "")
    return status, [line for line in re.split(r"\r\n|\r|\n", text) if line.strip()]


def json_lines(lines: list[str]) -> list[dict]:
    found = []
    for line in lines:
        with contextlib.suppress(ValueError):
            document = json.loads(line)
            if isinstance(document, dict):
                found.append(document)
    return found


def test_on_a_terminal_the_run_prints_text_lines_and_no_json_logs(tmp_path):
    # GIVEN a terminal and LOG_LEVEL=INFO (every event, not only warnings)
    # WHEN `run --offline` runs there
    status, lines = on_terminal(["run", "--offline", "--store", str(tmp_path / "data")], tmp_path,
                                LOG_LEVEL="INFO")
    # THEN the events are short text lines, not JSON, followed by the human result
    assert status == 0
    assert json_lines(lines) == []
    assert any(line.startswith("mirror_run_start (survey=pr, source_url=http://127.0.0.1:") for line in lines)
    assert any(line.startswith("report_produced (report=population_stats, key=reports/population_stats.json")
               for line in lines)
    assert "Store: " + str(tmp_path / "data") + " (local event hand-off)" in lines
    assert any(line.startswith("  Population 2013-2018: mean 322,069,808") for line in lines)


def test_on_a_terminal_only_warnings_and_errors_are_logged_by_default(tmp_path):
    # GIVEN an empty store: `analyze` fails for want of its inputs
    status, lines = on_terminal(["analyze", "--store", str(tmp_path / "data")], tmp_path)
    # THEN one human error line, no JSON and no info events
    assert status == 1
    assert json_lines(lines) == []
    assert lines == [f"error: input 'bls/pr/pr.data.0.Current' is not in the store {tmp_path / 'data'}; "
                     "run `bls-pipeline mirror` first"]


@pytest.mark.parametrize("args, env", [([], {"LOG_FORMAT": "json"}), (["--json"], {})],
                         ids=["LOG_FORMAT=json", "--json"])
def test_json_logs_on_a_terminal_when_asked(tmp_path, args, env):
    status, lines = on_terminal(["analyze", "--store", str(tmp_path / "data"), *args], tmp_path, **env)
    assert status == 1
    assert [(d.get("event"), d.get("level")) for d in json_lines(lines) if "event" in d] == [
        ("command_failed", "ERROR")]


def test_log_format_choice():
    args = build_parser().parse_args(["run"])
    as_json = build_parser().parse_args(["run", "--json"])
    plain, text, json_format = Settings(), Settings(log_format="text"), Settings(log_format="json")
    assert log_format_for(args, plain, stderr_is_terminal=True) == "text"
    assert log_format_for(args, plain, stderr_is_terminal=False) == "json"  # piped, CI, Lambda
    assert log_format_for(as_json, plain, stderr_is_terminal=True) == "json"
    assert log_format_for(args, json_format, stderr_is_terminal=True) == "json"
    assert log_format_for(args, text, stderr_is_terminal=False) == "text"
    assert Settings.from_env({"LOG_FORMAT": "Text"}).log_format == "text"


def test_text_lines_name_the_event_its_error_and_fields(capsys):
    # GIVEN text format WHEN a warning and an error are logged THEN each is one short line
    from chalicelib.core import log

    try:
        log.use_format("text")
        log.log_event("mirror_state_conflict", logging.WARNING, survey="pr", attempt=2)
        log.log_error("file_failed", ValueError("GET x answered 503"), survey="pr", file="pr.txt")
        log.log_event("file_added", survey="pr", first_rows=list(range(100)))
    finally:
        log.use_format("json")
    lines = capsys.readouterr().err.splitlines()
    assert lines[:2] == ["warning: mirror_state_conflict (survey=pr, attempt=2)",
                         "error: file_failed: GET x answered 503 (survey=pr, file=pr.txt)"]
    assert lines[2].startswith("file_added (survey=pr, first_rows=[0, 1, 2") and lines[2].endswith("…)")
    assert len(lines[2]) < 120
