"""The jinja2 environments of `zonewall.present` and the escapers its templates use.

Templates live in ``zonewall/present/templates`` inside the package.  HTML templates
(``*.html.j2``, ``*.svg.j2``) are autoescaped; the others (Markdown, DOT, Mermaid) are not, and
every piece of user text in them goes through the escaping filter of its language: ``md``,
``dot`` or ``mermaid``.  Names are safe identifiers, but ``why`` strings, titles and file paths
are user text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import jinja2

__all__ = ["dot_escape", "md_escape", "mermaid_escape", "render_template"]

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|<>#])")


def md_escape(text: object) -> str:
    """Markdown-safe inline text: backslash-escape punctuation, newlines become spaces."""
    flat = " ".join(str(text).split())
    return _MD_SPECIAL.sub(r"\\\1", flat).replace("&", "&amp;")


def dot_escape(text: object) -> str:
    """The inside of a DOT double-quoted string (a literal, never a record or HTML label)."""
    out = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return out.replace("\r", "").replace("\n", "\\n")


def mermaid_escape(text: object) -> str:
    """The inside of a Mermaid quoted label: entity codes for characters Mermaid interprets."""
    out = str(text).replace("#", "#35;").replace('"', "#quot;").replace("%", "#37;")
    out = out.replace("<", "#lt;").replace(">", "#gt;").replace("|", "#124;")
    return " ".join(out.split())


FILTERS = {"md": md_escape, "dot": dot_escape, "mermaid": mermaid_escape}


@functools.cache
def _env(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("zonewall", "present/templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=autoescape,
    )
    env.filters.update(FILTERS)
    return env


def render_template(name: str, context: Mapping[str, Any]) -> str:
    """Render a template of ``zonewall/present/templates``; HTML and SVG are autoescaped."""
    autoescape = name.endswith((".html.j2", ".svg.j2"))
    return _env(autoescape).get_template(name).render(**context)
