"""`python -m workstation.emulator deploy [--port N] [--path 1|2]` / `stop` / `event`: what `make deploy-local[-stop]` runs.

`event` prints a Scheduled Event (what the daily rule delivers) for `chalice invoke -n ingest`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from chalicelib.core.errors import ConfigError, PipelineError
from workstation.emulator import deploy, ministack


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0 done, 1 the deployment or the run failed, 2 bad usage or configuration."""
    parser = argparse.ArgumentParser(prog="python -m workstation.emulator", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["deploy", "stop", "event"])
    parser.add_argument("--port", type=int, default=ministack.DEFAULT_PORT, help="emulator port (default 4566)")
    parser.add_argument("--path", type=int, choices=[1, 2], default=1,
                        help="1: cdk deploy (default); 2: the data stack, then chalice deploy")
    parser.add_argument("--state-dir", type=Path, default=deploy.DEFAULT_STATE_DIR,
                        help="logs, synthesis and process ids (default .deploy-local/)")
    args = parser.parse_args(argv)
    try:
        if args.command == "event":
            print(json.dumps(deploy.scheduled_event(ministack.ACCOUNT, ministack.REGION, deploy.MANUAL_RULE_ARN)))
            return 0
        if args.command == "stop":
            stopped = deploy.stop_local(args.state_dir)
            print("\n".join(f"stopped {b.name} (pid {b.pid}, port {b.port})" for b in stopped)
                  or "nothing was running")
            return 0
        print(f"Deploying by Path {args.path} to ministack on port {args.port} "
              f"({'synthesis takes ~20-60 s' if args.path == 1 else 'the data stack, then chalice deploy'}) ...",
              flush=True)
        print(deploy.render(deploy.deploy_local(args.state_dir, args.port, path=args.path)))
        return 0
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (PipelineError, TimeoutError) as error:
        print(f"error: {error}\n(the emulator keeps running for a look; `make deploy-local-stop` stops it)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
