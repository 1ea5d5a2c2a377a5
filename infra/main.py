"""CDK app entry point: `python -m infra.main` from the repository root (`infra/cdk.json` runs it
so; not named app.py, which is the Chalice app).

Path 1, everything in one stack:      cdk deploy                      -> BlsPipeline-<env>
Path 2, data resources for Chalice:   cdk deploy -c data_only=true    -> BlsPipelineData-<env>

Context (`-c name=value` or `cdk.json`): environment (default dev), alarm_email,
bls_contact, bls_source_url, population_api_url, report_data_key, log_level, data_only.
cdk-nag's AwsSolutions checks run on every synth; an unsuppressed error fails it.
Path 1 packages the Chalice app during synthesis, which needs `AWS_DEFAULT_REGION`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.config import REPO_ROOT, PipelineConfig, data_only
from infra.pipeline_stack import DataStack, PipelineStack

FEATURE_ACCESS_LOGS_POLICY = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"
REGION_VARIABLE = "AWS_DEFAULT_REGION"


class MissingRegion(Exception):
    """Path 1's synthesis cannot package the Chalice app without `AWS_DEFAULT_REGION`."""

    def __init__(self) -> None:
        super().__init__(
            f"error: {REGION_VARIABLE} is not set; packaging the Chalice app needs it "
            f"(e.g. {REGION_VARIABLE}=us-east-1; AWS_REGION alone is not enough)"
        )


def stack_names(environment: str) -> dict[str, str]:
    """The stack names of both paths for an environment."""
    return {"pipeline": f"BlsPipeline-{environment}", "data": f"BlsPipelineData-{environment}"}


def build_app(context: dict[str, Any] | None = None, outdir: str | None = None,
              source_dir: Path | None = None) -> tuple[cdk.App, cdk.Stack]:
    """The CDK app with the stack the context asks for (and cdk-nag's checks on it).

    `source_dir`: the Chalice project to package (default: this repository).
    Raises MissingRegion for Path 1 without `AWS_DEFAULT_REGION`.
    """
    # Access logs are delivered under a bucket policy (no ACLs; both buckets owner-enforced).
    app = cdk.App(context={FEATURE_ACCESS_LOGS_POLICY: True, **(context or {})}, outdir=outdir)
    config = PipelineConfig.from_context(app)
    names = stack_names(config.environment)
    env = cdk.Environment(
        account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")
    )
    if data_only(app):
        stack: cdk.Stack = DataStack(app, names["data"], config, env=env,
                                     description="bls-pipeline data resources (Path 2: chalice deploy)")
    else:
        if not os.environ.get(REGION_VARIABLE):
            raise MissingRegion()
        stack = PipelineStack(app, names["pipeline"], config, env=env, source_dir=source_dir or REPO_ROOT,
                              description="bls-pipeline: data resources and the Chalice app (Path 1)")
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return app, stack


def main() -> int:
    """Synthesize into `CDK_OUTDIR` (set by the CDK CLI); a missing region is one line on stderr."""
    try:
        app, _ = build_app()
    except MissingRegion as error:
        print(error, file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
