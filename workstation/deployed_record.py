"""`chalice logs` / `chalice invoke` for a CDK (Path 1) deployment: write `.chalice/deployed/<stage>.json`.

    python -m workstation.deployed_record --stack BlsPipeline-dev [--stage dev] [--project-dir .]

Chalice reads the functions of a stage from `.chalice/deployed/<stage>.json`, which only
`chalice deploy` writes (upstream aws/chalice#1665, #1965). This writes the same record for
the functions of a CloudFormation stack, from the stack's outputs (`<LogicalId>FunctionName`)
and the stack's own ARN (region, account): for each function `name`, `resource_type`
`lambda_function` and `lambda_arn` — all that `chalice logs` and `chalice invoke` read.

`chalice delete --stage <stage>` must never delete what CloudFormation owns. Chalice plans a
deletion for every resource of the record before it deletes anything, and stops with
"Sweeper encountered an unknown resource" on a resource type it does not know. The record
therefore starts with one such resource, `cloudformation_stack` (naming the stack and the
command that does delete it): `chalice delete` (and `chalice deploy` to the same stage)
fail before making a single call, and the functions stay.

Uses the ambient AWS credentials, region and `AWS_ENDPOINT_URL` (the emulator).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

SCHEMA_VERSION = "2.0"
GUARD_TYPE = "cloudformation_stack"  # unknown to Chalice's sweeper: `chalice delete` stops on it
# Chalice's function names (app.py) and the stack outputs naming their deployed functions.
FUNCTION_OUTPUTS = {
    "api_handler": "APIHandlerFunctionName",
    "ingest": "IngestFunctionName",
    "ingest_continue": "IngestContinueFunctionName",
    "analyze": "AnalyzeFunctionName",
    "lake": "LakeFunctionName",
}


class RecordError(Exception):
    """The stack's outputs cannot make a record, or writing it would replace a `chalice deploy` record."""


def function_arns(outputs: Mapping[str, str], stack_id: str) -> dict[str, str]:
    """Lambda ARNs by Chalice function name, from the stack outputs and the stack's ARN."""
    parts = stack_id.split(":")
    if len(parts) < 6 or parts[2] != "cloudformation":
        raise RecordError(f"not a CloudFormation stack ARN: {stack_id!r}")
    partition, region, account = parts[1], parts[3], parts[4]
    arns = {name: f"arn:{partition}:lambda:{region}:{account}:function:{outputs[key]}"
            for name, key in FUNCTION_OUTPUTS.items() if outputs.get(key)}
    if not arns:
        raise RecordError(f"the stack outputs name no function (expected some of {', '.join(FUNCTION_OUTPUTS.values())})")
    return arns


def record(stack_name: str, stack_id: str, arns: Mapping[str, str]) -> dict[str, Any]:
    """The `.chalice/deployed/<stage>.json` document (schema 2.0) with the guard first."""
    guard = {
        "name": "cloudformation_stack",
        "resource_type": GUARD_TYPE,
        "stack_name": stack_name,
        "stack_id": stack_id,
        "note": f"These functions belong to CloudFormation stack {stack_name}: `chalice logs` and "
                f"`chalice invoke` work; `chalice delete` deletes nothing (delete the stack: "
                f"`cdk destroy {stack_name}`).",
    }
    functions = [{"name": name, "resource_type": "lambda_function", "lambda_arn": arn} for name, arn in arns.items()]
    return {"schema_version": SCHEMA_VERSION, "backend": "api", "resources": [guard, *functions]}


def record_path(project_dir: Path, stage: str) -> Path:
    return project_dir / ".chalice" / "deployed" / f"{stage}.json"


def is_stack_record(path: Path) -> bool:
    """True if `path` is a record this module wrote (not one of `chalice deploy`)."""
    try:
        resources = json.loads(path.read_text()).get("resources", [])
    except (OSError, ValueError, AttributeError):
        return False
    return any(r.get("resource_type") == GUARD_TYPE for r in resources if isinstance(r, dict))


def write(project_dir: Path, stage: str, document: Mapping[str, Any], force: bool = False) -> Path:
    """Write the record; refuses to replace a record of `chalice deploy` (its functions are Chalice's) unless `force`."""
    path = record_path(project_dir, stage)
    if path.exists() and not force and not is_stack_record(path):
        raise RecordError(f"{path} was written by `chalice deploy` (stage {stage!r} is a Path 2 deployment); "
                          "not replaced (--force replaces it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def from_stack(cloudformation: Any, stack_name: str) -> dict[str, Any]:
    """The record for stack `stack_name` (describe_stacks: its ARN and outputs)."""
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return record(stack_name, stack["StackId"], function_arns(outputs, stack["StackId"]))


def default_stage(stack_name: str) -> str:
    """`BlsPipeline-<env>` → `<env>` (the Chalice stage of the same environment)."""
    return stack_name.split("-", 1)[1] if "-" in stack_name else stack_name


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workstation.deployed_record",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="the Path 1 stack (BlsPipeline-<env>)")
    parser.add_argument("--stage", help="the Chalice stage to write (default: <env> of the stack name)")
    parser.add_argument("--project-dir", type=Path, default=Path.cwd(), help="the Chalice project (default: .)")
    parser.add_argument("--force", action="store_true", help="replace a record written by `chalice deploy`")
    args = parser.parse_args(argv)
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    stage = args.stage or default_stage(args.stack)
    try:
        document = from_stack(boto3.client("cloudformation"), args.stack)
        path = write(args.project_dir, stage, document, force=args.force)
    except (BotoCoreError, ClientError, RecordError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    names = [r["name"] for r in document["resources"] if r["resource_type"] == "lambda_function"]
    print(f"wrote {path}: {', '.join(names)} of stack {args.stack}")
    print(f"next: chalice logs -n analyze --stage {stage}; chalice invoke -n ingest --stage {stage} < event.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
