"""Helpers shared by the test tiers (tests/unit, tests/integration, tests/e2e); no tests here.

Importable as `support` (tests/ is on sys.path, see pytest.ini). Test modules import
helpers from here, never from each other; fixtures live in the conftest.py files.
"""
