"""`make deploy-local`: the stack on ministack by either deploy path, one scheduled ingestion, everything after it.

`deploy_local` starts (or finds running) the emulator and a source server with the bundled
snapshot, then deploys the environment `local`:
- Path 1 (`path=1`, the default): the CDK app synthesized and deployed as `cdk deploy` does
  (`stack`), then `.chalice/deployed/local.json` written from the stack's outputs
  (`workstation.deployed_record`: `chalice logs` / `chalice invoke` work, `chalice delete` deletes nothing);
- Path 2 (`path=2`): the data stack (`-c data_only=true`) the same way, `infra/write_chalice_config.py`
  on a copy of the Chalice project, then `chalice deploy` (`chalice_cli`), whose own record is copied
  into the project.
Then it invokes the ingestion function once with a Scheduled Event and waits until everything
that follows has run from the package — continuations through their queue until the mirror run
is complete, S3 → SQS → the analysis, S3 → EventBridge → SQS → the lake function — and every
queue that feeds a function is empty: reports current, `silver/` written, Glue partitions
registered. Both processes keep running; `stop_local` ends them. Running it again updates the
stack and ingests again: with nothing changed, nothing is written, so nothing is recomputed.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chalicelib.core.errors import ConfigError, PipelineError
from chalicelib.core.layout import (
    GOLD_PREFIX,
    MIRROR_RUN_KEY,
    POPULATION_STATS_KEY,
    REPORTS_PREFIX,
    SILVER_PREFIX,
    SUMMARY_KEY,
)
from chalicelib.core.settings import Settings
from chalicelib.gold import tables as gold_tables
from chalicelib.lake import tables
from chalicelib.pipeline import events
from workstation import deployed_record
from workstation.emulator import chalice_cli, ministack, processes, sign_in, stack
from workstation.snapshot import snapshot_settings

REPO = Path(__file__).resolve().parents[2]
DEFAULT_STATE_DIR = REPO / ".deploy-local"
ENVIRONMENT = "local"  # stack BlsPipeline-local (Path 2: BlsPipelineData-local), functions bls-pipeline-local-*
STACK_NAME = f"BlsPipeline-{ENVIRONMENT}"
INVOKE_TIMEOUT = 960  # the ingestion function's timeout (900 s) and some
# The functions fed by a queue (Chalice names): each must have an event source mapping, and the
# run is over when all their queues are empty. A new queue-driven function is one more entry.
QUEUE_FUNCTIONS = ("ingest_continue", "analyze", "lake")
MANUAL_RULE_ARN = f"arn:aws:events:{ministack.REGION}:{ministack.ACCOUNT}:rule/invoked-by-hand"


class LocalRunFailed(PipelineError):
    """The deployed ingestion or what follows it did not complete."""


def stack_name(environment: str, path: int) -> str:
    """The CloudFormation stack of an environment on a deploy path (as in infra/main.py)."""
    return f"BlsPipeline-{environment}" if path == 1 else f"BlsPipelineData-{environment}"


@dataclass
class LocalDeployment:
    """What `deploy_local` did and found."""

    endpoint: str
    stack: str
    stack_action: str  # created / updated / unchanged (Path 2: of the data stack)
    outputs: dict[str, str]
    bucket: str
    ingestion: dict[str, Any]  # the scheduled invocation's result
    changed_inputs: list[str]
    report_keys: list[str]
    population_stats: dict[str, Any]
    state_dir: Path
    started: list[str] = field(default_factory=list)  # processes started by this run (others were running)
    seconds: float = 0.0
    path: int = 1
    environment: str = ENVIRONMENT
    functions: dict[str, str] = field(default_factory=dict)  # Chalice name -> function name
    queues: dict[str, str] = field(default_factory=dict)  # Chalice name -> URL of the queue feeding it
    mirror_run: dict[str, Any] = field(default_factory=dict)  # _state/mirror-run.json at the end
    silver_keys: list[str] = field(default_factory=list)
    partitions: dict[str, list[list[str]]] = field(default_factory=dict)  # Glue table -> partition values
    record: Path | None = None  # .chalice/deployed/<stage>.json
    chalice_project: Path | None = None  # Path 2: the project copy `chalice deploy` ran in
    chalice_output: str = ""  # Path 2: what `chalice deploy` printed
    dashboard_url: str = ""  # Path 1: the API as the emulator serves it (sign in there)
    test_user: sign_in.TestUser | None = None  # Path 1: who signs in (API_AUTH=cognito)
    gold_keys: list[str] = field(default_factory=list)  # written by the lake function's gold step


def deploy_local(state_dir: Path = DEFAULT_STATE_DIR, port: int = ministack.DEFAULT_PORT,
                 report_timeout: float = 180, *, path: int = 1, environment: str = ENVIRONMENT,
                 project_dir: Path = REPO, ingest_time_budget: float | None = None) -> LocalDeployment:
    """Emulator + sources + stack + one scheduled ingestion → everything after it (see the module docstring).

    `project_dir`: where `.chalice/deployed/<environment>.json` is written (the repository: `chalice logs`
    there works). `ingest_time_budget`: seconds the daily function may mirror (the CDK context value
    `ingest_time_budget`; Path 2: its stage variable) — the rest goes on in continuations.
    """
    if path not in (1, 2):
        raise ConfigError(f"deploy path must be 1 (cdk deploy) or 2 (chalice deploy), not {path!r}")
    started_at = time.monotonic()
    emulator, sources, started = _ensure_processes(state_dir, port)
    settings = snapshot_settings(Settings(), f"http://127.0.0.1:{sources.port}")
    name = stack_name(environment, path)

    def client(service: str, **config: Any) -> Any:
        return ministack.client(service, emulator.port, **config)

    other = stack.stack_status(client("cloudformation"), stack_name(environment, 3 - path))
    if other is not None:
        raise ConfigError(f"environment {environment!r} is deployed by the other path on this emulator "
                          f"(stack {stack_name(environment, 3 - path)}); `make deploy-local-stop` first")
    context = {"environment": environment, "bls_contact": str(settings.bls_contact),
               "bls_source_url": settings.bls_source_urls[0], "population_api_url": str(settings.population_api_url),
               "http_requests_per_second": str(settings.http_requests_per_second),  # our own server: no pace
               "athena_named_queries": "false",  # ministack has no AWS::Athena::NamedQuery
               **sign_in.context(emulator.port)}  # API_AUTH=cognito (the default) with ministack's Cognito
    if path == 2:
        context["data_only"] = "true"
    elif ingest_time_budget is not None:
        context["ingest_time_budget"] = str(ingest_time_budget)
    synthesized = stack.synthesize(name, context, state_dir / f"synth-{environment}")
    account = client("sts").get_caller_identity()["Account"]
    stack.bootstrap(client("s3"), client("ssm"), account, ministack.REGION)
    published = stack.publish_assets(synthesized, client("s3"), account, ministack.REGION)
    action = stack.deploy(synthesized, client("cloudformation"), published[f"{name}.template.json"])
    outputs = stack.outputs(client("cloudformation"), name)
    project, chalice_output = None, ""
    if path == 1:
        document = deployed_record.from_stack(client("cloudformation"), name)
        record = deployed_record.write(project_dir, environment, document, force=True)
    else:
        project = state_dir / f"chalice-project-{environment}"
        chalice_output = chalice_deploy(project, environment, emulator.port, settings, ingest_time_budget)
        record = deployed_record.record_path(project, environment)
        if project_dir.resolve() != project.resolve():
            target = deployed_record.record_path(project_dir, environment)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(record, target)
            record = target
    _remember_record(state_dir, record)
    functions = {r["name"]: r["lambda_arn"].rsplit(":", 1)[-1] for r in json.loads(record.read_text())["resources"]
                 if r.get("resource_type") == "lambda_function"}
    bucket = outputs["DataStore"].removeprefix("s3://")
    s3 = client("s3")
    queues = function_queues(client("lambda"), client("sqs"), functions)
    inputs_before = _etags(s3, bucket, events.report_inputs(settings))
    ingestion = invoke_ingestion(client("lambda", read_timeout=INVOKE_TIMEOUT, retries={"max_attempts": 0}),
                                 client("events"), functions["ingest"], account)
    run = wait_until_settled(s3, client("sqs"), bucket, queues, functions, report_timeout)
    inputs_after = _etags(s3, bucket, events.report_inputs(settings))
    changed = [key for key in events.report_inputs(settings) if inputs_after.get(key) != inputs_before.get(key)]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=REPORTS_PREFIX).get("Contents", [])]
    stats = json.loads(s3.get_object(Bucket=bucket, Key=POPULATION_STATS_KEY)["Body"].read())
    silver = _keys(s3, bucket, SILVER_PREFIX)
    gold = _keys(s3, bucket, GOLD_PREFIX)
    partitions = glue_partitions(client("glue"), outputs.get("LakeDatabase", ""))
    user = (sign_in.ensure_test_user(client("cognito-idp"), outputs["UserPoolId"], state_dir)
            if "UserPoolId" in outputs else None)
    return LocalDeployment(f"http://localhost:{emulator.port}", name, action, outputs, bucket, ingestion,
                           changed, keys, stats, state_dir, started, time.monotonic() - started_at, path,
                           environment, functions, queues, run, silver, partitions, record, project,
                           chalice_output, outputs.get("DashboardURL", ""), user, gold)


def chalice_deploy(project: Path, environment: str, port: int, settings: Settings,
                   ingest_time_budget: float | None = None) -> str:
    """Path 2 after the data stack: the project copy, `infra/write_chalice_config.py`, `chalice deploy`."""
    chalice_cli.project(project)
    env = chalice_cli.environment(port)
    configure = subprocess.run(
        [sys.executable, str(REPO / "infra" / "write_chalice_config.py"), "--environment", environment,
         "--config", str(project / ".chalice" / "config.json"), "--contact", settings.bls_contact or ""],
        check=False, capture_output=True, text=True, env=env, cwd=REPO)
    if configure.returncode != 0:
        raise stack.DeployFailed(f"infra/write_chalice_config.py failed:\n{configure.stderr[-2000:]}")

    def sources(config: dict[str, Any]) -> dict[str, Any]:
        stage = config["stages"][environment]
        stage["environment_variables"].update({"BLS_SOURCE_URL": settings.bls_source_urls[0],
                                               "POPULATION_API_URL": settings.population_api_url,
                                               "HTTP_REQUESTS_PER_SECOND": str(settings.http_requests_per_second)})
        if ingest_time_budget is not None:
            ingest = stage["lambda_functions"].setdefault("ingest", {})
            ingest.setdefault("environment_variables", {})["MIRROR_TIME_BUDGET"] = str(ingest_time_budget)
        return config

    chalice_cli.update_config(project, sources)
    done = chalice_cli.run(["deploy", "--stage", environment], project, port)
    if done.returncode != 0:
        raise stack.DeployFailed(f"chalice deploy --stage {environment} failed (exit {done.returncode}):\n"
                                 f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def function_queues(lambda_client: Any, sqs: Any, functions: dict[str, str]) -> dict[str, str]:
    """The URL of the queue feeding each of QUEUE_FUNCTIONS (from its event source mapping)."""
    queues = {}
    for name in QUEUE_FUNCTIONS:
        if name not in functions:
            raise LocalRunFailed(f"the deployment has no function {name!r}")
        mappings = lambda_client.list_event_source_mappings(FunctionName=functions[name])["EventSourceMappings"]
        arns = sorted({m["EventSourceArn"] for m in mappings if ":sqs:" in m["EventSourceArn"]})
        if len(arns) != 1:
            raise LocalRunFailed(f"{functions[name]}: expected one SQS event source mapping, found {arns}")
        queues[name] = sqs.get_queue_url(QueueName=arns[0].rsplit(":", 1)[-1])["QueueUrl"]
    return queues


def glue_partitions(glue: Any, database: str) -> dict[str, list[list[str]]]:
    """The registered partitions (their values) of each lake table."""
    if not database:
        return {}
    found = {}
    for table in (*tables.TABLES, *gold_tables.TABLES):
        pages = glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table)
        found[table] = sorted(p["Values"] for page in pages for p in page.get("Partitions", []))
    return found


def _remember_record(state_dir: Path, record: Path) -> None:
    """Note a `.chalice/deployed/<stage>.json` this deployment wrote (the stop removes it: its functions go)."""
    listed = state_dir / "records.txt"
    known = set(listed.read_text().split("\n")) if listed.exists() else set()
    listed.write_text("\n".join(sorted((known | {str(record.resolve())}) - {""})) + "\n")


def stop_local(state_dir: Path = DEFAULT_STATE_DIR) -> list[processes.Background]:
    """Stop every process the local deployment started (emulator state is in memory: it is gone), and
    remove the `.chalice/deployed/` records of its functions."""
    listed = state_dir / "records.txt"
    for line in (listed.read_text().split("\n") if listed.exists() else []):
        if line:
            Path(line).unlink(missing_ok=True)
    listed.unlink(missing_ok=True)
    state = processes.StateFile(state_dir)
    running = state.load()
    for background in running.values():
        processes.stop(background)
    state.save({})
    shutil.rmtree(state_dir / ministack.LAMBDA_TMP, ignore_errors=True)  # unpacked functions and layers
    return list(running.values())


def _ensure_processes(state_dir: Path, port: int) -> tuple[processes.Background, processes.Background, list[str]]:
    """The running emulator and source server of this state folder, started if not running."""
    state = processes.StateFile(state_dir)
    running = state.load()
    started = []
    emulator = running.get("ministack")
    if emulator is None or emulator.port != port or not ministack.healthy(port):
        if emulator is not None:
            processes.stop(emulator)
        running["ministack"] = emulator = ministack.start(port, state_dir)
        started.append("ministack")
        state.save(running)
    sources = running.get("sources")
    if sources is None or not processes.group_members(sources.pid) or not processes.port_open(sources.port):
        if sources is not None:
            processes.stop(sources)
        # The same port as before when possible: the stack's source URLs then stay the same.
        source_port = sources.port if sources and not processes.port_open(sources.port) else processes.free_port()
        running["sources"] = sources = start_sources(state_dir, source_port)
        started.append("sources")
        state.save(running)
    return emulator, sources, started


def start_sources(state_dir: Path, port: int) -> processes.Background:
    """The bundled snapshot, served on 127.0.0.1:port by a background process."""
    background = processes.start(
        "sources", [sys.executable, "-m", "workstation.emulator.snapshot_server", "--port", str(port)],
        {name: value for name, value in os.environ.items() if not name.startswith("AWS_")},
        state_dir / "sources.log", port, cwd=REPO)
    processes.wait_until(lambda: processes.port_open(port), 30, f"the source server (log: {background.log})")
    return background


def scheduled_event(account: str, region: str, rule_arn: str) -> dict[str, Any]:
    """The event EventBridge sends for a schedule rule (what the daily trigger delivers)."""
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": account, "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region,
        "resources": [rule_arn], "detail": {},
    }


def invoke_ingestion(lambda_client: Any, events_client: Any, function: str, account: str) -> dict[str, Any]:
    """Invoke the ingestion function once, as its schedule rule would; returns its result document."""
    arn = lambda_client.get_function_configuration(FunctionName=function)["FunctionArn"]
    rules = events_client.list_rule_names_by_target(TargetArn=arn)["RuleNames"]
    if not rules:
        raise LocalRunFailed(f"no schedule rule targets {function}")
    rule_arn = events_client.describe_rule(Name=rules[0])["Arn"]
    response = lambda_client.invoke(FunctionName=function, LogType="Tail",
                                    Payload=json.dumps(scheduled_event(account, ministack.REGION, rule_arn)))
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        log = base64.b64decode(response.get("LogResult", "")).decode(errors="replace")
        raise LocalRunFailed(f"{function} failed: {payload}\n--- end of its log ---\n{log}")
    return payload


def wait_until_settled(s3: Any, sqs: Any, bucket: str, queues: dict[str, str], functions: dict[str, str],
                       timeout: float) -> dict[str, Any]:
    """Wait until the mirror run is complete, every function's queue is empty (twice in a row) and the
    reports were computed from the current inputs; returns the mirror run's record."""
    def queued() -> dict[str, int]:
        counts = {}
        for name, url in queues.items():
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            counts[name] = sum(int(value) for value in attributes.values())
        return counts

    def run() -> dict[str, Any]:
        try:
            return dict(json.loads(s3.get_object(Bucket=bucket, Key=MIRROR_RUN_KEY)["Body"].read()))
        except s3.exceptions.ClientError:
            return {}

    def current() -> bool:
        try:
            summary = json.loads(s3.get_object(Bucket=bucket, Key=SUMMARY_KEY)["Body"].read())
            return all(s3.head_object(Bucket=bucket, Key=item["key"])["ETag"].strip('"') == item["etag"]
                       for item in summary["inputs"])
        except s3.exceptions.ClientError:
            return False

    quiet = [0]

    def settled() -> bool:
        idle = run().get("complete") is True and not any(queued().values()) and current()
        quiet[0] = quiet[0] + 1 if idle else 0
        return quiet[0] >= 2  # S3 and EventBridge deliver asynchronously: empty twice, a second apart

    time.sleep(1.0)
    try:
        processes.wait_until(settled, timeout, "the run to settle", interval=1.0)
    except TimeoutError as error:
        waiting = {name: count for name, count in queued().items() if count}
        raise LocalRunFailed(
            f"{error}: mirror run complete: {run().get('complete')}; messages waiting: {waiting or 'none'}; "
            f"reports current: {current()}. The log groups "
            + ", ".join(f"/aws/lambda/{functions[name]}" for name in ("ingest", *QUEUE_FUNCTIONS))
            + " (and the emulator's log) say why") from None
    return run()


def _etags(s3: Any, bucket: str, keys: Any) -> dict[str, str]:
    found = {}
    for key in keys:
        try:
            found[key] = s3.head_object(Bucket=bucket, Key=key)["ETag"]
        except s3.exceptions.ClientError:
            pass
    return found


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def render(deployment: LocalDeployment) -> str:
    """The summary printed by `make deploy-local`."""
    d, endpoint = deployment, deployment.endpoint
    mirror = d.ingestion.get("mirror") or {}
    counts = ", ".join(f"{len(mirror.get(k) or [])} {k}" for k in ("added", "updated", "unchanged", "deleted"))
    population = "changed" if (d.ingestion.get("population") or {}).get("changed") else "unchanged"
    invocations = int(d.mirror_run.get("invocations") or 0)
    continued = (f"; {invocations - 1} continuation(s) through the queue to {d.functions['ingest_continue']}"
                 if invocations > 1 else "")
    analysis = (f"report inputs written: {', '.join(d.changed_inputs)} → S3 → analysis queue → "
                f"{d.functions['analyze']} computed the reports" if d.changed_inputs else
                "no report input changed: no message was sent, nothing was recomputed")
    started = f"started: {', '.join(d.started)}" if d.started else "emulator and source server were running"
    how = "cdk deploy (Path 1)" if d.path == 1 else "data stack + chalice deploy (Path 2)"
    registered = ", ".join(f"{table} {len(values)}" for table, values in d.partitions.items()) or "none"
    stage = d.environment
    lines = [
        (f"Deployed {d.stack} by {how} ({d.stack_action}) on ministack at {endpoint} "
        f"({started}; {d.seconds:.0f} s)"),
        "  functions: " + ", ".join(d.functions.values()),
        f"  bucket:    {d.bucket}",
        f"  record:    {d.record} (chalice logs / chalice invoke --stage {stage})",
        f"Ingestion ({d.functions['ingest']}, invoked once with a Scheduled Event; sources: the bundled snapshot)",
        f"  first invocation's mirror: {counts}; population: {population}{continued}",
        f"  {analysis}",
        f"Reports in s3://{d.bucket}/{REPORTS_PREFIX}:",
        *(f"  {key}" for key in d.report_keys),
        (f"Population mean {d.population_stats['start_year']}-{d.population_stats['end_year']}: "
        f"{d.population_stats['mean']:,.0f}"),
        (f"Silver layer ({d.functions['lake']}, from S3 → EventBridge → lake queue): {len(d.silver_keys)} objects "
        f"under s3://{d.bucket}/{SILVER_PREFIX}; Glue partitions: {registered}"),
        f"Gold layer (the lake function's gold step): {len(d.gold_keys)} objects under s3://{d.bucket}/{GOLD_PREFIX}",
        *([f"Dashboard: open {d.dashboard_url} in a browser and sign in as {d.test_user.email} "
           f"with the password {d.test_user.password}",
           f"  (a test user of pool {d.test_user.pool_id}; the password is kept in "
           f"{d.state_dir / sign_in.STATE_FILE}; docs/deploy-local.md, 'Signing in')"]
          if d.test_user and d.dashboard_url else []),
        "",
        "Look further (the emulator keeps running; `make deploy-local-stop` stops it):",
        (f"  export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test "
        "AWS_DEFAULT_REGION=us-east-1"),
        f"  chalice logs -n analyze --stage {stage}        # also -n ingest, ingest_continue, lake, api_handler",
        f"  python -m workstation.emulator event | chalice invoke -n ingest --stage {stage}   # a Scheduled Event",
        f"  aws s3 ls s3://{d.bucket}/{REPORTS_PREFIX}",
        f"  aws s3 cp s3://{d.bucket}/{POPULATION_STATS_KEY} -",
        f"  aws cloudformation describe-stacks --stack-name {d.stack}",
        f"  emulator log: {d.state_dir / 'ministack.log'}",
    ]
    return "\n".join(lines)
