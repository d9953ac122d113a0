"""`check --format junit`: the check report as JUnit XML for CI test reports.

``<testsuites>`` holds exactly one ``<testsuite>`` (named after the policy file) with one
``<testcase>`` per assertion, in source order: ``name`` is the assertion's text, ``classname``
the file it is written in.  A failing assertion carries ``<failure>`` (type = its code, the
counterexample hop by hop in the body); an accepted one is ``<skipped>`` with its reason; a
passing one is empty.

Diagnostics: every error that is not an assertion's own failure (a syntax error, an unknown
name, ...; with ``--warnings-as-errors`` every warning too) makes one extra testcase,
``policy is valid``, fail with ``<error>``, so a policy whose assertions could not even be
checked never shows as a green suite.  The whole rendered diagnostic text, warnings included,
is the suite's ``<system-err>``.  The counts on ``<testsuite>`` and ``<testsuites>`` are those
of the testcases.  No timestamps or durations: the XML is byte-identical from run to run.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence

from zonewall._version import __version__
from zonewall.diagnostics import Diagnostic, render_all
from zonewall.present.results import AssertionRow, assertion_rows, is_assertion_diagnostic
from zonewall.report import CheckReport
from zonewall.text import xml_text

__all__ = ["VALIDITY_CASE", "to_junit"]

VALIDITY_CASE = "policy is valid"


def _clean(text: str) -> str:
    """User text as XML can hold it: control characters (most of which XML 1.0 cannot hold,
    even escaped), bidi controls and noncharacters shown as escapes (`xml_text`)."""
    return xml_text(text)


def _case(
    suite: ET.Element, name: str, classname: str, file: str | None, line: int | None
) -> ET.Element:
    case = ET.SubElement(suite, "testcase", {"name": _clean(name), "classname": _clean(classname)})
    if file is not None:
        case.set("file", _clean(file))
    if line is not None:
        case.set("line", str(line))
    return case


def _assertion_case(suite: ET.Element, row: AssertionRow, root: str) -> None:
    span = row.span
    case = _case(
        suite,
        row.text,
        span.file if span else root,
        span.file if span else None,
        span.line if span else None,
    )
    if row.status == "fail":
        failure = ET.SubElement(
            case,
            "failure",
            {
                "message": _clean(f"assertion '{row.text}' fails: {row.result.message}"),
                "type": row.code,
            },
        )
        failure.text = _clean(row.failure_text())
    elif row.status == "accepted":
        ET.SubElement(
            case, "skipped", {"message": _clean(f"accepted risk: {row.reason}")}
        ).text = _clean(row.failure_text())


def _blocking(report: CheckReport, warnings_as_errors: bool) -> list[Diagnostic]:
    return [
        d
        for d in report.diagnostics
        if (d.is_error or warnings_as_errors) and not is_assertion_diagnostic(d)
    ]


# A CI page shows a few screens of a test's output: past this many, the diagnostics are
# counted, not rendered (800,000 of them, a policy near the token limit, took gigabytes).
MAX_LISTED = 25_000


def _listed(diags: Sequence[Diagnostic], sources: Mapping[str, str]) -> str:
    """The first `MAX_LISTED` diagnostics rendered, and how many more there are."""
    text = render_all(diags[:MAX_LISTED], sources)
    if len(diags) > MAX_LISTED:
        text += f"... and {len(diags) - MAX_LISTED} more (zonewall check lists them all)\n"
    return text


def to_junit(report: CheckReport, warnings_as_errors: bool = False) -> str:
    """The JUnit XML document of a check (UTF-8 declaration, two-space indent, final newline)."""
    rows = assertion_rows(report.compiled)
    blocking = _blocking(report, warnings_as_errors)
    if report.compiled is None and not blocking:  # cannot happen: no compile without an error
        blocking = list(report.diagnostics)
    failures = sum(1 for r in rows if r.status == "fail")
    skipped = sum(1 for r in rows if r.status == "accepted")
    tests = len(rows) + (1 if blocking else 0)
    counts = {
        "tests": str(tests),
        "failures": str(failures),
        "errors": str(1 if blocking else 0),
        "skipped": str(skipped),
    }
    top = ET.Element("testsuites", {"name": "zonewall check", **counts})
    suite = ET.SubElement(top, "testsuite", {"name": _clean(report.path), **counts})
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", {"name": "zonewall.version", "value": __version__})
    ET.SubElement(props, "property", {"name": "policy", "value": _clean(report.path)})
    for row in rows:
        _assertion_case(suite, row, report.path)
    if blocking:
        first = blocking[0]
        case = _case(suite, VALIDITY_CASE, report.path, report.path, None)
        error = ET.SubElement(
            case,
            "error",
            {
                "message": _clean(
                    f"{len(blocking)} problem(s) in the policy; first: {first.code} {first.message}"
                ),
                "type": first.code,
            },
        )
        error.text = _clean(_listed(blocking, report.sources))
    if report.diagnostics:
        ET.SubElement(suite, "system-err").text = _clean(
            _listed(report.diagnostics, report.sources)
        )
    ET.indent(top, space="  ")
    body = ET.tostring(top, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
