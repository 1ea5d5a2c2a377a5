"""CDK app entry point (`cdk.json`: `"app": "../.venv/bin/python main.py"`; not named app.py,
which is the Chalice app).

Path 1, everything in one stack:      cdk deploy                      -> BlsPipeline-<env>
Path 2, data resources for Chalice:   cdk deploy -c data_only=true    -> BlsPipelineData-<env>

Context (`-c name=value` or `cdk.json`): environment (default dev), alarm_email,
bls_contact, bls_source_url, population_api_url, report_data_key, log_level, data_only.
cdk-nag's AwsSolutions checks run on every synth; an unsuppressed error fails it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parent):  # infra/ modules and the chalicelib package
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import aws_cdk as cdk  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from pipeline_stack import DataStack, PipelineConfig, PipelineStack  # noqa: E402


FEATURE_ACCESS_LOGS_POLICY = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"


def stack_names(environment: str) -> dict[str, str]:
    """The stack names of both paths for an environment."""
    return {"pipeline": f"BlsPipeline-{environment}", "data": f"BlsPipelineData-{environment}"}


def build_app(context: dict[str, Any] | None = None, outdir: str | None = None,
              source_dir: Path | None = None) -> tuple[cdk.App, cdk.Stack]:
    """The CDK app with the stack the context asks for (and cdk-nag's checks on it).

    `source_dir`: the Chalice project to package (default: this repository).
    """
    # Access logs are delivered under a bucket policy (no ACLs; both buckets owner-enforced).
    app = cdk.App(context={FEATURE_ACCESS_LOGS_POLICY: True, **(context or {})}, outdir=outdir)
    config = PipelineConfig.from_context(app)
    names = stack_names(config.environment)
    env = cdk.Environment(
        account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")
    )
    data_only = str(app.node.try_get_context("data_only") or "false").lower() in ("1", "true", "yes")
    if data_only:
        stack: cdk.Stack = DataStack(app, names["data"], config, env=env,
                                     description="bls-pipeline data resources (Path 2: chalice deploy)")
    else:
        stack = PipelineStack(app, names["pipeline"], config, env=env, source_dir=source_dir or HERE.parent,
                              description="bls-pipeline: data resources and the Chalice app (Path 1)")
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return app, stack


if __name__ == "__main__":
    build_app()[0].synth()
