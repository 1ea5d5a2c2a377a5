"""The dashboard's Jinja2 templates: all load, everything is autoescaped, None shows as nothing."""

from __future__ import annotations

from importlib import resources

from chalicelib.web.rendering import ENVIRONMENT, with_code


def test_every_template_loads_and_escapes():
    # GIVEN the template files shipped in chalicelib/web/templates
    names = sorted(p.name for p in resources.files("chalicelib.web").joinpath("templates").iterdir()
                   if p.name.endswith(".html"))
    assert "dashboard.html" in names and "chart.html" in names
    # THEN each compiles, and a value with markup comes out escaped
    for name in names:
        ENVIRONMENT.get_template(name)
    probe = ENVIRONMENT.from_string("{{ value }}|{{ nothing }}", globals={})
    assert probe.render(value='<b a="1">&', nothing=None) == "&lt;b a=&#34;1&#34;&gt;&amp;|"


def test_backquoted_text_becomes_code_and_the_rest_is_escaped():
    assert with_code("Run `make run` <now>") == "Run <code>make run</code> &lt;now&gt;"
