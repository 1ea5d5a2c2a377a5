"""The command line's common behaviour: exit statuses, one JSON document, one-line errors, log format."""

from __future__ import annotations

import json
import logging

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


# --------------------------------------------------------------------------- log format


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
