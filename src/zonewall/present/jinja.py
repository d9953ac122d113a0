"""The jinja2 environments of `zonewall.present` and the escapers its templates use.

Templates live in ``zonewall/present/templates`` inside the package.  HTML templates
(``*.html.j2``, ``*.svg.j2``) are autoescaped; the others (Markdown, DOT, Mermaid) are not, and
every piece of user text in them goes through the escaping filter of its language: ``md``,
``dot`` or ``mermaid``.  Names are safe identifiers, but ``why`` strings, titles and file paths
are user text.  In HTML and SVG every printed value first goes through `zonewall.text.xml_text`
(the environment's ``finalize``), so a control character is shown escaped and the document
stays well-formed XML; DOT and Mermaid labels do the same in their filters.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import jinja2
from markupsafe import Markup

from zonewall.text import markdown_text, xml_text

__all__ = ["dot_escape", "md_escape", "mermaid_escape", "render_template"]


def md_escape(text: object) -> str:
    """Markdown-safe inline text (`zonewall.text.markdown_text`), runs of blanks as one."""
    return markdown_text(" ".join(str(text).split()))


def _lines(text: object) -> list[str]:
    """Lines of text as an XML document can hold them (`xml_text`, escapes shown)."""
    return xml_text(str(text)).split("\n")


def dot_escape(text: object) -> str:
    """The inside of a DOT double-quoted string (a literal, never a record or HTML label).

    Graphviz writes a label into SVG as it is, entity references included (`&#0;` would make
    the SVG ill-formed), so `&` is written `&amp;`, which Graphviz shows as `&`; control
    characters are shown escaped, and a newline is DOT's `\\n`.
    """
    return "\\n".join(
        line.replace("\\", "\\\\").replace('"', '\\"').replace("&", "&amp;")
        for line in _lines(text)
    )


def mermaid_escape(text: object) -> str:
    """The inside of a Mermaid quoted label: entity codes for characters Mermaid interprets
    (`#` first, so the codes themselves stay as they are)."""
    out = " ".join(_lines(text)).replace("#", "#35;").replace("&", "#38;")
    out = out.replace('"', "#quot;").replace("%", "#37;")
    out = out.replace("<", "#lt;").replace(">", "#gt;").replace("|", "#124;")
    return " ".join(out.split())


FILTERS = {"md": md_escape, "dot": dot_escape, "mermaid": mermaid_escape}


def _xml_finalize(value: Any) -> Any:
    """Every value an HTML or SVG template prints, before autoescaping: text through `xml_text`
    (control characters, which XML 1.0 cannot hold even escaped, and bidi controls shown as
    escapes); markup already rendered (the inline SVG) stays markup."""
    if isinstance(value, Markup):
        return Markup(xml_text(str(value)))
    return xml_text(value) if isinstance(value, str) else value


@functools.cache
def _env(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("zonewall", "present/templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=autoescape,
        finalize=_xml_finalize if autoescape else None,
    )
    env.filters.update(FILTERS)
    return env


def render_template(name: str, context: Mapping[str, Any]) -> str:
    """Render a template of ``zonewall/present/templates``; HTML and SVG are autoescaped."""
    autoescape = name.endswith((".html.j2", ".svg.j2"))
    return _env(autoescape).get_template(name).render(**context)
