"""The Path 1 stack on a local AWS emulator (ministack): `make deploy-local`, `make deploy-local-stop`.

- `processes`: the background processes a local deployment keeps running, and how they are stopped.
- `ministack`: the emulator, from its own virtual environment (`.venv-emulator/`), on 127.0.0.1.
- `stack`: synthesize the CDK app, publish its assets where `cdk deploy` would, create/update the stack.
- `deploy`: the whole run (emulator + snapshot source server + stack + one scheduled ingestion →
  reports) and its summary; `python -m workstation.emulator {deploy,stop}`.

Workstation code: nothing here ships in the Lambda package. See docs/deploy-local.md.
"""
