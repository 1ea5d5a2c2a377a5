"""Where the project and the test data are, and the names the tests give to AWS resources."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
FIXTURES = TESTS / "fixtures"
ARTIFACTS = TESTS / "artifacts"  # git-ignored output (the browser test's screenshot)
BUCKET = "bls-pipeline-test"
