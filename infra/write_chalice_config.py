"""Path 2: copy the data stack's outputs into `.chalice/config.json`, for `chalice deploy`.

    python infra/write_chalice_config.py --environment dev [--outputs-file infra/cdk-outputs.json]

Writes into stage `<env>`: `DATA_STORE`, `ANALYSIS_QUEUE_ARN`, the report data key, the
contact, and one pre-created IAM role per function (`manage_iam_role: false`); other keys of
the stage and of the file are kept. See docs/pipeline.md ("Path 2").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CONFIG = HERE.parent / ".chalice" / "config.json"

# stack output -> where it goes
REQUIRED_OUTPUTS = (
    "DataStore", "QueueArn", "ReportDataKey", "IngestRoleArn", "AnalyzeRoleArn", "ApiHandlerRoleArn",
    "IngestContinueRoleArn", "ContinuationQueueArn", "ContinuationQueueUrl", "LakeQueueArn", "LakeRoleArn",
    "LakeDatabase",
)


def data_stack_name(environment: str) -> str:
    """The Path 2 stack name (as in infra/main.py)."""
    return f"BlsPipelineData-{environment}"


def outputs_from_file(path: Path, stack: str) -> dict[str, str]:
    """The stack's outputs from `cdk deploy --outputs-file` JSON."""
    document = json.loads(path.read_text())
    if stack not in document:
        raise SystemExit(f"error: {path} has no outputs of stack {stack!r} (found: {', '.join(document) or 'none'})")
    return dict(document[stack])


def outputs_from_cloudformation(stack: str) -> dict[str, str]:
    """The stack's outputs, read with the current AWS credentials and region."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = boto3.client("cloudformation").describe_stacks(StackName=stack)
    except (BotoCoreError, ClientError) as error:
        raise SystemExit(f"error: cannot read the outputs of stack {stack!r}: {error}") from None
    return {o["OutputKey"]: o["OutputValue"] for o in response["Stacks"][0].get("Outputs", [])}


def check_outputs(outputs: Mapping[str, str]) -> None:
    """Exit with a clear message if an output the config needs is missing."""
    missing = [name for name in REQUIRED_OUTPUTS if not outputs.get(name)]
    if missing:
        raise SystemExit(f"error: the stack outputs lack {', '.join(missing)}; is this the data stack "
                         f"(cdk deploy -c data_only=true)?")


def update_config(config: dict[str, Any], environment: str, outputs: Mapping[str, str],
                  contact: str | None = None) -> dict[str, Any]:
    """`config` with stage `environment` wired to the data stack's resources (a new dict)."""
    check_outputs(outputs)
    config = json.loads(json.dumps(config))  # deep copy
    stage = config.setdefault("stages", {}).setdefault(environment, {})
    stage.setdefault("api_gateway_stage", "api")
    stage["manage_iam_role"] = False
    stage["autogen_policy"] = False
    stage["iam_role_arn"] = outputs["ApiHandlerRoleArn"]
    variables = stage.setdefault("environment_variables", {})
    variables["DATA_STORE"] = outputs["DataStore"]
    variables["ANALYSIS_QUEUE_ARN"] = outputs["QueueArn"]
    variables["CONTINUATION_QUEUE_ARN"] = outputs["ContinuationQueueArn"]
    variables["CONTINUATION_QUEUE_URL"] = outputs["ContinuationQueueUrl"]
    variables["REPORT_DATA_KEY"] = outputs["ReportDataKey"]
    variables["LAKE_QUEUE_ARN"] = outputs["LakeQueueArn"]
    variables["LAKE_GLUE_DATABASE"] = outputs["LakeDatabase"]
    if contact:
        variables["BLS_CONTACT"] = contact
    functions = stage.setdefault("lambda_functions", {})
    for function, output in (("ingest", "IngestRoleArn"), ("ingest_continue", "IngestContinueRoleArn"),
                             ("analyze", "AnalyzeRoleArn"), ("api_handler", "ApiHandlerRoleArn"),
                             ("lake", "LakeRoleArn")):
        functions.setdefault(function, {})["iam_role_arn"] = outputs[output]
    return config


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--environment", default="dev", help="CDK environment = Chalice stage (default dev)")
    parser.add_argument("--outputs-file", type=Path,
                        help="JSON written by `cdk deploy --outputs-file` (default: ask CloudFormation)")
    parser.add_argument("--contact", default=os.environ.get("BLS_CONTACT"),
                        help="BLS_CONTACT for the deployed functions (default: $BLS_CONTACT)")
    parser.add_argument("--config", type=Path, default=CONFIG, help="the Chalice config file to update")
    args = parser.parse_args(argv)
    stack = data_stack_name(args.environment)
    if args.outputs_file:
        outputs = outputs_from_file(args.outputs_file, stack)
    else:
        outputs = outputs_from_cloudformation(stack)
    check_outputs(outputs)
    config = update_config(json.loads(args.config.read_text()), args.environment, outputs, args.contact)
    args.config.write_text(json.dumps(config, indent=2) + "\n")
    print(f"wrote stage {args.environment!r} of {args.config}: DATA_STORE={outputs['DataStore']}, "
          f"queue {outputs['QueueArn']}, roles for ingest, analyze, api_handler")
    if not (args.contact or config["stages"][args.environment]["environment_variables"].get("BLS_CONTACT")
            or config.get("environment_variables", {}).get("BLS_CONTACT")):
        print("warning: BLS_CONTACT is not set for the stage; the daily ingestion will fail until it is "
              "(rerun with --contact you@example.org)", file=sys.stderr)
    print(f"next: chalice deploy --stage {args.environment}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
