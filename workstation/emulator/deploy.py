"""`make deploy-local`: the Path 1 stack on ministack, one scheduled ingestion, the reports.

`deploy_local` starts (or finds running) the emulator and a source server with the bundled
snapshot, synthesizes and deploys the stack (environment `local`) with the ingestion pointed
at that server, invokes the ingestion function once with a Scheduled Event, and waits until
the reports in the stack's bucket were computed from the current inputs (S3 → SQS → the
analysis function) and the analysis queue is empty. Both processes keep running;
`stop_local` ends them. Running it again updates the stack and ingests again: with nothing
changed, no report input is written, so no message is sent and nothing is recomputed.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chalicelib.core.errors import PipelineError
from chalicelib.core.layout import POPULATION_STATS_KEY, REPORTS_PREFIX, SUMMARY_KEY
from chalicelib.core.settings import Settings
from chalicelib.pipeline import events
from workstation.emulator import ministack, processes, stack
from workstation.snapshot import snapshot_settings

REPO = Path(__file__).resolve().parents[2]
DEFAULT_STATE_DIR = REPO / ".deploy-local"
ENVIRONMENT = "local"  # stack BlsPipeline-local, functions bls-pipeline-local-*
STACK_NAME = f"BlsPipeline-{ENVIRONMENT}"
INVOKE_TIMEOUT = 960  # the ingestion function's timeout (900 s) and some


class LocalRunFailed(PipelineError):
    """The deployed ingestion or analysis did not produce current reports."""


@dataclass
class LocalDeployment:
    """What `deploy_local` did and found."""

    endpoint: str
    stack: str
    stack_action: str  # created / updated / unchanged
    outputs: dict[str, str]
    bucket: str
    ingestion: dict[str, Any]
    changed_inputs: list[str]
    report_keys: list[str]
    population_stats: dict[str, Any]
    state_dir: Path
    started: list[str] = field(default_factory=list)  # processes started by this run (others were running)
    seconds: float = 0.0

    @property
    def functions(self) -> dict[str, str]:
        """Function names by role: ingest, ingest_continue, analyze, lake, api."""
        keys = {"ingest": "IngestFunctionName", "ingest_continue": "IngestContinueFunctionName",
                "analyze": "AnalyzeFunctionName", "lake": "LakeFunctionName", "api": "APIHandlerFunctionName"}
        return {role: self.outputs[key] for role, key in keys.items() if key in self.outputs}


def deploy_local(state_dir: Path = DEFAULT_STATE_DIR, port: int = ministack.DEFAULT_PORT,
                 report_timeout: float = 180) -> LocalDeployment:
    """Emulator + sources + stack + one scheduled ingestion → the reports (see the module docstring)."""
    started_at = time.monotonic()
    emulator, sources, started = _ensure_processes(state_dir, port)
    settings = snapshot_settings(Settings(), f"http://127.0.0.1:{sources.port}")
    context = {"environment": ENVIRONMENT, "bls_contact": settings.bls_contact,
               "bls_source_url": settings.bls_source_urls[0], "population_api_url": settings.population_api_url,
               "athena_named_queries": "false"}  # ministack has no AWS::Athena::NamedQuery
    synthesized = stack.synthesize(STACK_NAME, context, state_dir / "synth")

    def client(service: str, **config: Any) -> Any:
        return ministack.client(service, emulator.port, **config)

    account = client("sts").get_caller_identity()["Account"]
    stack.bootstrap(client("s3"), client("ssm"), account, ministack.REGION)
    published = stack.publish_assets(synthesized, client("s3"), account, ministack.REGION)
    action = stack.deploy(synthesized, client("cloudformation"), published[f"{STACK_NAME}.template.json"])
    outputs = stack.outputs(client("cloudformation"), STACK_NAME)
    bucket = outputs["DataStore"].removeprefix("s3://")
    ingestion = invoke_ingestion(client("lambda", read_timeout=INVOKE_TIMEOUT, retries={"max_attempts": 0}),
                                 client("events"), outputs["IngestFunctionName"], account)
    s3 = client("s3")
    wait_for_reports(s3, client("sqs"), bucket, outputs["QueueUrl"], outputs["AnalyzeFunctionName"],
                     report_timeout)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=REPORTS_PREFIX).get("Contents", [])]
    stats = json.loads(s3.get_object(Bucket=bucket, Key=POPULATION_STATS_KEY)["Body"].read())
    return LocalDeployment(f"http://localhost:{emulator.port}", STACK_NAME, action, outputs, bucket, ingestion,
                           changed_inputs(ingestion, settings), keys, stats, state_dir, started,
                           time.monotonic() - started_at)


def stop_local(state_dir: Path = DEFAULT_STATE_DIR) -> list[processes.Background]:
    """Stop every process the local deployment started (emulator state is in memory: it is gone)."""
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


def changed_inputs(ingestion: dict[str, Any], settings: Settings) -> list[str]:
    """The report inputs the ingestion wrote (each write sends the analysis queue a message)."""
    mirror = ingestion.get("mirror") or {}
    written = {survey["prefix"] + name for survey in mirror.get("surveys", [])
               for name in survey.get("added", []) + survey.get("updated", [])}
    population = ingestion.get("population") or {}
    if population.get("changed"):
        written.add(population.get("key", ""))
    return [key for key in events.report_inputs(settings) if key in written]


def wait_for_reports(s3: Any, sqs: Any, bucket: str, queue_url: str, analysis: str, timeout: float) -> None:
    """Wait until the analysis queue is empty and the reports were computed from the current inputs."""
    def queued() -> int:
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return sum(int(value) for value in attributes.values())

    def current() -> bool:
        try:
            summary = json.loads(s3.get_object(Bucket=bucket, Key=SUMMARY_KEY)["Body"].read())
            return all(s3.head_object(Bucket=bucket, Key=item["key"])["ETag"].strip('"') == item["etag"]
                       for item in summary["inputs"])
        except s3.exceptions.ClientError:
            return False

    time.sleep(1.0)  # S3 sends its notifications asynchronously, as on AWS
    try:
        processes.wait_until(lambda: queued() == 0 and current(), timeout, "the reports")
    except TimeoutError as error:
        raise LocalRunFailed(f"{error}: {queued()} message(s) still on the analysis queue; the log group "
                             f"/aws/lambda/{analysis} (and the emulator's log) says why") from None


def render(deployment: LocalDeployment) -> str:
    """The summary printed by `make deploy-local`."""
    d, endpoint = deployment, deployment.endpoint
    mirror = d.ingestion.get("mirror") or {}
    counts = ", ".join(f"{len(mirror.get(k) or [])} {k}" for k in ("added", "updated", "unchanged", "deleted"))
    population = "changed" if (d.ingestion.get("population") or {}).get("changed") else "unchanged"
    analysis = (f"report inputs written: {', '.join(d.changed_inputs)} → S3 → analysis queue → "
                f"{d.functions['analyze']} computed the reports" if d.changed_inputs else
                "no report input changed: no message was sent, nothing was recomputed")
    started = f"started: {', '.join(d.started)}" if d.started else "emulator and source server were running"
    lines = [
        f"Deployed stack {d.stack} ({d.stack_action}) on ministack at {endpoint} ({started}; {d.seconds:.0f} s)",
        "  functions: " + ", ".join(d.functions.values()),
        f"  bucket:    {d.bucket}",
        f"Ingestion ({d.functions['ingest']}, invoked once with a Scheduled Event; sources: the bundled snapshot)",
        f"  mirror: {counts}; population: {population}",
        f"  {analysis}",
        f"Reports in s3://{d.bucket}/{REPORTS_PREFIX}:",
        *(f"  {key}" for key in d.report_keys),
        f"Population mean {d.population_stats['start_year']}-{d.population_stats['end_year']}: "
        f"{d.population_stats['mean']:,.0f}",
        "",
        "Look further (the emulator keeps running; `make deploy-local-stop` stops it):",
        "  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1",
        f"  aws --endpoint-url {endpoint} s3 ls s3://{d.bucket}/{REPORTS_PREFIX}",
        f"  aws --endpoint-url {endpoint} s3 cp s3://{d.bucket}/{POPULATION_STATS_KEY} -",
        f"  aws --endpoint-url {endpoint} cloudformation describe-stacks --stack-name {d.stack}",
        *(f"  aws --endpoint-url {endpoint} logs filter-log-events --log-group-name /aws/lambda/{name} "
          "--query 'events[].message' --output text" for name in (d.functions["ingest"], d.functions["analyze"])),
        f"  emulator log: {d.state_dir / 'ministack.log'}",
    ]
    return "\n".join(lines)
