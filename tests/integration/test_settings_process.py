"""Settings in a fresh interpreter: an invalid LOG_LEVEL must not break importing the app."""

from __future__ import annotations

import subprocess
import sys

from support.paths import REPO


def test_an_invalid_log_level_does_not_break_imports():
    # GIVEN LOG_LEVEL=bogus WHEN the app is imported THEN it loads (INFO), and settings name the variable
    code = "import app; from chalicelib.core.settings import Settings; Settings.from_env()"
    done = subprocess.run([sys.executable, "-c", code], env={"LOG_LEVEL": "bogus", "PATH": ""},
                          capture_output=True, text=True, cwd=str(REPO))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith(
        "chalicelib.core.errors.ConfigError: LOG_LEVEL: 'bogus' is not one of DEBUG")
