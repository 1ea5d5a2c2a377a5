"""Command line: `bls-pipeline {mirror,population,analyze,run,lake,query,users}`.

Human-readable output by default; `--json` prints exactly one JSON document on
stdout (logs go to stderr). Exit status: 0 success, 1 a step failed, 2 bad
usage or configuration.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from chalicelib.core import log
from chalicelib.core.errors import ConfigError, PipelineError
from chalicelib.core.settings import Settings, log_config_from_env
from chalicelib.core.store import open_store
from workstation import users  # issue 22

# A command returns (JSON-able result, human-readable text, success).
CommandResult = tuple[dict[str, Any], str, bool]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also documents every flag in `--help`)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", help="local folder or s3://bucket[/prefix] (env DATA_STORE; default ./data)")
    common.add_argument("--json", action="store_true", help="print one JSON document on stdout, nothing else")

    # Only the commands that fetch from the sources identify themselves with a contact.
    source_flags = argparse.ArgumentParser(add_help=False)
    source_flags.add_argument("--contact", help="e-mail or URL for the User-Agent (env BLS_CONTACT)")
    source_flags.add_argument(
        "--offline",
        action="store_true",
        help="use the bundled snapshot of real BLS/DataUSA data served locally (no internet needed)",
    )

    mirror_flags = argparse.ArgumentParser(add_help=False)
    mirror_flags.add_argument(
        "--source", help="BLS directory URL(s), comma-separated (env BLS_SOURCE_URL)"
    )
    mirror_flags.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    mirror_flags.add_argument(
        "--verify", action="store_true", help="re-fetch every file (conditionally) and compare SHA-256"
    )
    mirror_flags.add_argument(
        "--allow-mass-delete", action="store_true", help="allow deleting more than MASS_DELETE_FRACTION of the files"
    )
    mirror_flags.add_argument(
        "--time-budget", metavar="SECONDS",
        help="start no transfer after this many seconds; the next run continues (env MIRROR_TIME_BUDGET)",
    )

    population_flags = argparse.ArgumentParser(add_help=False)
    population_flags.add_argument("--url", help="population API URL (env POPULATION_API_URL)")

    analyze_flags = argparse.ArgumentParser(add_help=False)
    analyze_flags.add_argument("--years", help="population statistics year range START-END (env REPORT_YEARS)")
    analyze_flags.add_argument("--series", help="series id for the series x population report (env REPORT_SERIES_ID)")
    analyze_flags.add_argument("--period", help="period for the series x population report (env REPORT_PERIOD)")
    analyze_flags.add_argument(
        "--include-annual", action="store_true", help="count Q05 (annual average) in the best-year sums"
    )

    parser = argparse.ArgumentParser(prog="bls-pipeline", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("mirror", parents=[common, source_flags, mirror_flags], help="sync BLS directories into the store")
    sub.add_parser("population", parents=[common, source_flags, population_flags],
                   help="fetch and store U.S. population")
    sub.add_parser("analyze", parents=[common, analyze_flags], help="compute the reports from the store")
    sub.add_parser(
        "run",
        parents=[common, source_flags, mirror_flags, population_flags, analyze_flags],
        help="mirror + population, then the reports through the event hand-off",
    )
    sub.add_parser("lake", parents=[common],
                   help="bring the silver layer in step with the mirror (convert what changed, drop orphans)")
    query = sub.add_parser(
        "query", help="one read-only SQL statement (DuckDB) over the local store's silver layer",
        description="Run one read-only SQL statement (SELECT, WITH, VALUES, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN) "
                    "over the silver tables bls_data, bls_series and population of a local store (docs/lake.md).",
    )
    query.add_argument("--store", help="local store folder (env DATA_STORE; default ./data); "
                                       "for an S3 store use Athena")
    query.add_argument("--json", action="store_true", help="print one JSON document on stdout, nothing else")
    query.add_argument("sql", help='one read-only SQL statement, e.g. "SELECT count(*) FROM bls_data"')
    query.add_argument("--csv", action="store_true", help="print CSV (header line first) instead of a table")
    query.add_argument("--as-of", dest="as_of", metavar="DATE",
                       help="bls_data as published at DATE (YYYY-MM-DD: end of that day, UTC; or "
                            "YYYY-MM-DDTHH:MM:SSZ), from the releases recorded in bls_revisions (docs/lake.md)")
    users.add_parser(sub, common)  # issue 22: bls-pipeline users add|list|remove
    return parser


def package_version() -> str:
    """The installed bls-pipeline version (pyproject.toml), or "unknown" when run from an uninstalled tree."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bls-pipeline")
    except PackageNotFoundError:
        return "unknown"


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Environment settings with the command-line flags on top."""
    overrides: dict[str, Any] = {
        "data_store": args.store,
        "bls_contact": getattr(args, "contact", None),
        "bls_source_urls": getattr(args, "source", None),
        "population_api_url": getattr(args, "url", None),
        "report_series_id": getattr(args, "series", None),
        "report_period": getattr(args, "period", None),
        "mirror_time_budget": getattr(args, "time_budget", None),
    }
    if getattr(args, "years", None):
        env = {"REPORT_YEARS": args.years}
        parsed = Settings.from_env(env)
        overrides["report_start_year"] = parsed.report_start_year
        overrides["report_end_year"] = parsed.report_end_year
    return Settings.from_env(**overrides)


def progress_reporter(args: argparse.Namespace) -> Callable[[str], None] | None:
    """A one-line progress printer on a terminal; None in --json mode, under CI or when piped."""
    if args.json or os.environ.get("CI") or not sys.stderr.isatty():
        return None

    def show(message: str) -> None:
        sys.stderr.write(f"\r\033[K{message}")
        sys.stderr.flush()

    return show


def cmd_mirror(args: argparse.Namespace, settings: Settings) -> CommandResult:
    """`mirror`: sync the BLS directories (chalicelib.mirror.sync.run_mirror)."""
    from chalicelib.mirror.sync import run_mirror
    from workstation.render import mirror_text

    progress = progress_reporter(args)
    options = {"dry_run": bool(getattr(args, "dry_run", False)), "verify": bool(getattr(args, "verify", False)),
               "allow_mass_delete": bool(getattr(args, "allow_mass_delete", False))}
    store = open_store(settings.data_store)
    with sources(args, settings) as source_settings:
        if progress is None:
            result = run_mirror(source_settings, store, **options)
        else:
            from workstation.progress_bar import ProgressBar

            with ProgressBar() as bar:  # files, bytes, rate and ETA on the terminal
                result = run_mirror(source_settings, store, listener=bar.update, **options)
    return _offline(args, result.to_dict(), mirror_text(result), result.ok)


def cmd_population(args: argparse.Namespace, settings: Settings) -> CommandResult:
    """`population`: fetch, validate and store the population (chalicelib.population.update.run_population)."""
    from chalicelib.population.update import run_population
    from workstation.render import population_text

    progress = progress_reporter(args)
    store = open_store(settings.data_store)
    with sources(args, settings) as source_settings:
        if progress:
            progress(f"population: fetching {source_settings.population_api_url}")
        try:
            result = run_population(source_settings, store)
        finally:
            if progress:
                progress("")
    return _offline(args, result.to_dict(), population_text(result, store.url), result.ok)


@contextlib.contextmanager
def sources(args: argparse.Namespace, settings: Settings) -> Iterator[Settings]:
    """`settings`, or with `--offline` the same settings pointing at the bundled snapshot served locally."""
    if not getattr(args, "offline", False):
        yield settings
        return
    from workstation.snapshot import offline_sources

    with offline_sources(settings) as offline_settings:
        yield offline_settings


def _offline(args: argparse.Namespace, document: dict[str, Any], text: str, ok: bool) -> CommandResult:
    """A command's result, saying so when it ran on the bundled snapshot (`--offline`)."""
    if not getattr(args, "offline", False):
        return document, text, ok
    from workstation.snapshot import OFFLINE_NOTE

    return {**document, "offline": True}, f"{OFFLINE_NOTE}\n{text}", ok


def cmd_analyze(args: argparse.Namespace, settings: Settings) -> CommandResult:
    """`analyze`: compute, store and show the three reports (chalicelib.reports.run.run_reports)."""
    from chalicelib.reports.run import run_reports
    from workstation.render import reports_text

    progress = progress_reporter(args)
    result = run_reports(settings, open_store(settings.data_store),
                         include_annual=bool(getattr(args, "include_annual", False)), progress=progress)
    if progress:
        progress("")
    return result.to_dict(), reports_text(result), result.ok


def cmd_run(args: argparse.Namespace, settings: Settings) -> CommandResult:
    """`run`: ingestion, then analysis of the notifications it caused (workstation.local_run)."""
    from chalicelib.pipeline.ingestion import Step, mirror_step, population_step
    from workstation.local_run import run
    from workstation.render import run_text

    progress = progress_reporter(args)
    dry_run = bool(getattr(args, "dry_run", False))
    offline = bool(getattr(args, "offline", False))
    steps: list[tuple[str, Step]] = [(
        "mirror",
        mirror_step(dry_run=dry_run, verify=bool(getattr(args, "verify", False)),
                    allow_mass_delete=bool(getattr(args, "allow_mass_delete", False))),
    )]
    if not dry_run:
        steps.append(("population", population_step()))
    queue_name = os.environ.get("ANALYSIS_QUEUE_NAME", "").strip() or None
    if queue_name is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,80}", queue_name):
        raise ConfigError(f"ANALYSIS_QUEUE_NAME: {queue_name!r} is not an SQS queue name "
                          "(1-80 letters, digits, '-' or '_')")
    if not offline:
        settings.require_contact()  # a configuration error (exit 2) before anything is written
    result = run(
        settings,
        offline=offline,
        queue_name=queue_name,
        include_annual=bool(getattr(args, "include_annual", False)),
        steps=steps,
        progress=progress,
        analyze_messages=not dry_run,
    )
    if progress:
        progress("")
    if dry_run:
        result.notes.append("dry run: population and reports skipped, nothing written")
    return result.to_dict(), run_text(result), result.ok


def cmd_lake(args: argparse.Namespace, settings: Settings) -> CommandResult:
    """`lake`: reconcile the silver layer with the store's sources, then the gold layer with silver (also a
    backfill in AWS, with Glue)."""
    from chalicelib.core.store import open_store
    from chalicelib.gold import sync as gold
    from chalicelib.lake.catalog import catalog_for
    from chalicelib.lake.sync import reconcile
    from workstation.render import gold_lines, lake_lines

    store = open_store(settings.data_store)
    catalog = catalog_for(settings, store)
    results = [r.to_dict() for r in reconcile(store, catalog=catalog)]
    gold_results = [r.to_dict() for r in gold.reconcile(store, catalog=catalog)]  # after silver: gold reads it
    ok = all(r["action"] != "failed" for r in [*results, *gold_results])
    text = "\n".join(lake_lines(results) + gold_lines(gold_results))
    return {"ok": ok, "results": results, "gold": gold_results}, text, ok


def cmd_query(args: argparse.Namespace, settings: Settings) -> CommandResult:
    """`query`: SQL over the silver tables of the local store (workstation.query)."""
    from workstation.query import render_csv, render_table, run_query

    if args.csv and args.json:
        raise ConfigError("--csv and --json: choose one output format")
    result = run_query(settings.data_store, args.sql, as_of=args.as_of)
    for note in result.notes if not args.json else ():  # --json: in the document
        print(f"note: {note}", file=sys.stderr)
    return result.to_dict(), render_csv(result) if args.csv else render_table(result), True


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], CommandResult]] = {
    "mirror": cmd_mirror,
    "population": cmd_population,
    "analyze": cmd_analyze,
    "run": cmd_run,
    "lake": cmd_lake,
    "query": cmd_query,
    "users": users.run,  # issue 22
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    saved_format, saved_level = log.current_format(), log.logger.log_level
    try:
        settings = settings_from_args(args)
        use_log_format(args, settings)
        result, text, ok = COMMANDS[args.command](args, settings)
    except ConfigError as error:
        return _fail(args, error, status=2)
    except PipelineError as error:
        return _fail(args, error, status=1)
    finally:
        log.use_format(saved_format, level=logging.getLevelName(saved_level))
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=False, default=str))
    else:
        print(text)
    return 0 if ok else 1


def log_format_for(args: argparse.Namespace, settings: Settings, stderr_is_terminal: bool) -> str:
    """LOG_FORMAT if set; else JSON under --json or when stderr is not a terminal, text on a terminal."""
    if settings.log_format:
        return settings.log_format
    return "json" if args.json or not stderr_is_terminal else "text"


def use_log_format(args: argparse.Namespace, settings: Settings) -> None:
    """Text lines for a person at a terminal (warnings and errors unless LOG_LEVEL is set), JSON otherwise."""
    terminal = sys.stderr.isatty()
    if log_format_for(args, settings, terminal) == "text":
        level = settings.log_level if log_config_from_env().level_given else "WARNING"
        log.use_format("text", level=level, clear_line=terminal)
    else:
        log.use_format("json", level=settings.log_level)


def _fail(args: argparse.Namespace, error: Exception, status: int) -> int:
    if log.current_format() == "json":  # in text mode the line below says it all
        log.log_error("command_failed", error, command=args.command)
    if args.json:
        print(json.dumps({"error": str(error), "error_type": type(error).__name__}))
    print(f"error: {error}", file=sys.stderr)
    return status
