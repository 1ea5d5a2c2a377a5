"""Workstation-only code: the `bls-pipeline` command, local servers, the offline snapshot."""
