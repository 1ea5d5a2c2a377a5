"""The Jinja2 environment of the dashboard: templates in `chalicelib/web/templates/` (shipped in
the Lambda package with chalicelib/ and in the wheel as package data), autoescaped.

A `{{ value }}` of None renders as nothing. Filters: the formatters of `format.py` and
`with_code` (escaped text whose `backquoted` spans become <code>).
"""

from __future__ import annotations

import re
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from chalicelib.web.format import format_bytes, format_decimal, format_number, format_time

_CODE = re.compile(r"`([^`<>]+)`")


def with_code(text: str) -> Markup:
    """Escaped text with `command` spans shown as code."""
    return Markup(_CODE.sub(r"<code>\1</code>", str(escape(text))))


def _nothing_for_none(value: Any) -> Any:
    return "" if value is None else value


ENVIRONMENT = Environment(
    loader=PackageLoader("chalicelib.web", "templates"),
    autoescape=select_autoescape(["html"], default=True),
    undefined=StrictUndefined,
    finalize=_nothing_for_none,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)
ENVIRONMENT.filters.update(
    format_bytes=format_bytes, format_decimal=format_decimal, format_number=format_number, format_time=format_time, with_code=with_code,
)


def render(template: str, **context: Any) -> str:
    """The template rendered with `context`."""
    return ENVIRONMENT.get_template(template).render(**context)
