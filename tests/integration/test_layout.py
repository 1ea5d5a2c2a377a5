"""The store layout is spelled once: chalicelib/core/layout.py; every other module imports it."""

from __future__ import annotations

import ast

from chalicelib.core import layout
from support.paths import REPO

PREFIXES = (layout.BLS_PREFIX, layout.POPULATION_PREFIX, layout.REPORTS_PREFIX, layout.STATE_PREFIX)


def string_parts(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string constant (f-string parts included) that is not a docstring, with its line."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_no_module_but_the_layout_spells_a_store_prefix() -> None:
    # GIVEN every shipped, workstation and infra module
    sources = [REPO / "app.py", *(REPO / "chalicelib").rglob("*.py"), *(REPO / "workstation").rglob("*.py"),
               *(REPO / "infra").glob("*.py"), *(REPO / "bench").glob("*.py")]
    # WHEN their string literals are read
    spelled = [f"{path.relative_to(REPO)}:{line}: {text!r}"
               for path in sources if path != REPO / "chalicelib" / "core" / "layout.py"
               for line, text in string_parts(ast.parse(path.read_text(), str(path)))
               if text.startswith(PREFIXES) or layout.BOOKKEEPING_SUFFIX + "/" in text]
    # THEN none starts with a store prefix: they import chalicelib.core.layout
    assert spelled == []
