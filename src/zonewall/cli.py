"""The command line: argv in, text out, exit code.  The only module that prints.

Exit codes: 0 clean, 1 errors (in the policy, or failed assertions), 2 usage.  An unexpected
exception is a bug in zonewall: it is reported as such in one line (set ZONEWALL_DEBUG=1 for
the traceback) with exit code 70.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, TextIO

from zonewall import __version__
from zonewall.ir import AssertionResult, CompiledPolicy
from zonewall.report import (
    CheckReport,
    render_build_summary,
    render_diagnostics,
    render_text_summary,
    run_check,
    to_json,
)
from zonewall.text import terminal_text

if TYPE_CHECKING:
    from zonewall.present.conduits import Conduits

__all__ = ["main"]

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 70


class _IntermixedParser(argparse.ArgumentParser):
    """A subcommand whose optional positionals may follow options (`explain FILE --src-ip A
    DST`): plain argparse binds them, empty, to the first run of positionals."""

    _inner = False

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None,
                         ) -> tuple[argparse.Namespace, list[str]]:
        if self._inner:  # parse_known_intermixed_args calls back into parse_known_args
            return super().parse_known_args(args, namespace)
        self._inner = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inner = False


def _tell(text: str, stream: TextIO | None = None) -> None:
    """Write a message of the CLI's own (stderr unless told): file names, arguments, a
    config's lines and exception texts in it are the user's, so each line is written with
    its control characters escaped (`terminal_text`)."""
    (stream or sys.stderr).write("\n".join(terminal_text(line) for line in text.split("\n")))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zonewall",
        description="Network segmentation policy compiler: check a .zw policy and prove its "
        "assertions.",
    )
    parser.add_argument("--version", action="version", version=f"zonewall {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    check = sub.add_parser("check", help="parse, resolve and prove every assertion of a policy")
    check.add_argument("file", metavar="FILE", help="the policy (.zw)")
    check.add_argument("--format", choices=("text", "json", "sarif", "junit"), default="text",
                       help="text for people (default), json for CI, sarif for code scanning, "
                       "junit for CI test reports")
    check.add_argument("--warnings-as-errors", action="store_true",
                       help="exit 1 when there is any warning")
    build = sub.add_parser("build", help="check, then write one config per gateway, the VLAN "
                           "plan and manifest.json")
    build.add_argument("file", metavar="FILE", help="the policy (.zw)")
    build.add_argument("-o", "--output", metavar="DIR", required=True,
                       help="output directory (created if missing)")
    build.add_argument("--warnings-as-errors", action="store_true",
                       help="write nothing and exit 1 when there is any warning")
    audit = sub.add_parser("audit", help="compare a config taken from a device with the policy "
                           "and report drift")
    audit.add_argument("file", metavar="FILE", help="the policy (.zw)")
    audit.add_argument("--gateway", required=True, metavar="NAME",
                       help="the gateway the config belongs to")
    audit.add_argument("--config", required=True, metavar="RUNNING",
                       help="iptables-save output, an nft ruleset, or IOS show running-config")
    lab = sub.add_parser("lab", help="load the built configs into network namespaces and probe "
                         "every flow with real sockets (Linux, root)")
    lab.add_argument("file", metavar="FILE", help="the policy (.zw)")
    _present_parsers(sub)
    diff = sub.add_parser("diff", help="the semantic change between two versions of a policy: "
                          "flows gained and lost, assertions, classes, rule counts")
    diff.add_argument("files", nargs="+", metavar="FILE",
                      help="OLD NEW, or with --git REV the one FILE to compare")
    diff.add_argument("--git", metavar="REV",
                      help="compare FILE as of git revision REV (includes too) with the "
                      "working tree")
    diff.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                      help="text (default), json for CI, markdown for a pull-request comment")
    diff.add_argument("--fail-on-gained", action="store_true",
                      help="exit 1 when any flow is gained")
    explain = sub.add_parser("explain", help="is a flow permitted, and which statements and "
                             "gateways decide it")
    explain.add_argument("file", metavar="FILE", help="the policy (.zw)")
    explain.add_argument("ends", nargs="*", metavar="NAME",
                         help="SRC and DST: class or external names, tag:T or criticality:L "
                         "(leave out the side given by --src-ip or --dst-ip)")
    what = explain.add_mutually_exclusive_group()
    what.add_argument("--service", metavar="S", help="a service defined in the policy")
    what.add_argument("--port", metavar="P", help="a packet set such as tcp/443, udp/53, "
                      "tcp/8080-8090, icmp/echo-request")
    explain.add_argument("--src-ip", metavar="A", help="a source address: explain for the class "
                         "or external it belongs to")
    explain.add_argument("--dst-ip", metavar="B", help="a destination address")
    explain.add_argument("--format", choices=("text", "json"), default="text")
    explain.__class__ = _IntermixedParser  # names may come after the options
    fmt = sub.add_parser("fmt", help="rewrite policies in canonical layout, keeping comments")
    fmt.add_argument("files", metavar="FILE", nargs="+",
                     help="policy files to format (their includes are not followed)")
    fmt.add_argument("--check", action="store_true",
                     help="write nothing; exit 1 and name each file that is not formatted")
    fmt.add_argument("--diff", action="store_true",
                     help="write nothing; print a unified diff of what would change")
    for name, command in sub.choices.items():
        if name != "fmt":  # fmt never follows includes
            command.add_argument("--include-path", action="append", default=[], metavar="DIR",
                                 help="also allow includes from DIR (repeatable); by default "
                                 "an include must stay inside the root policy's folder")
    return parser


def _present_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    matrix = sub.add_parser("matrix", help="the zone-by-zone table of permitted services, with "
                            "each conduit's statements and why")
    matrix.add_argument("file", metavar="FILE", help="the policy (.zw)")
    matrix.add_argument("--format", choices=("text", "csv", "markdown", "html"), default="text")
    matrix.add_argument("--width", type=int, default=120, metavar="N",
                        help="text: print the grid only when it fits in N columns (default 120)")
    matrix.add_argument("-o", "--output", metavar="OUT", help="write to OUT instead of stdout")
    graph = sub.add_parser("graph", help="the flow graph as dot, mermaid, svg (needs Graphviz) "
                           "or a self-contained html report")
    graph.add_argument("file", metavar="FILE", help="the policy (.zw)")
    graph.add_argument("--format", choices=("dot", "mermaid", "svg", "html"), default="dot")
    graph.add_argument("-o", "--output", metavar="OUT", help="write to OUT instead of stdout")
    graph.add_argument("--highlight", metavar="ASSERTION",
                       help="draw this assertion's counterexample in red (its text or line)")


def _checked(path: str, include_path: Sequence[str]) -> CompiledPolicy | None:
    """Check a policy, print its diagnostics; the compiled policy only when it is clean."""
    report = run_check(path, include_path=include_path)
    sys.stderr.write(render_diagnostics(report))
    if not report.ok() or report.compiled is None:
        sys.stdout.write(render_text_summary(report))
        return None
    return report.compiled


def cmd_audit(args: argparse.Namespace) -> int:
    from zonewall.verify import ConfigParseError, summarize, validate

    compiled = _checked(args.file, args.include_path)
    if compiled is None:
        return EXIT_ERRORS
    plans = {g.name: g for g in compiled.gateways}
    if args.gateway not in plans:
        known = ", ".join(sorted(plans)) or "none"
        _tell(f"zonewall audit: no gateway '{args.gateway}' (gateways: {known})\n")
        return EXIT_USAGE
    plan = plans[args.gateway]
    try:
        with open(args.config, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        _tell(f"zonewall audit: cannot read '{args.config}': {exc}\n")
        return EXIT_ERRORS
    try:
        diffs = validate(compiled, plan.name, text, plan.platform, filename=args.config)
    except ConfigParseError as exc:
        _tell(f"{args.config}:{exc.line}: error: {exc.message}\n  {exc.text}\n"
              "zonewall audit reads configs fail-closed: a construct it cannot "
              "model exactly is an error, never skipped\n")
        return EXIT_ERRORS
    if not diffs:
        _tell(f"{args.config}: gateway '{plan.name}' ({plan.platform}) enforces "
              "exactly the policy: no drift\n", sys.stdout)
        return EXIT_OK
    for line in summarize(diffs):  # they quote the config's rules and the policy's texts
        _tell(line + "\n", sys.stdout)
    _tell(f"{args.config}: drift on gateway '{plan.name}': {len(diffs)} "
          "difference(s) from the policy\n", sys.stdout)
    return EXIT_ERRORS


def cmd_lab(args: argparse.Namespace) -> int:
    from zonewall.lab import LabError, render_lab, run_lab

    compiled = _checked(args.file, args.include_path)
    if compiled is None:
        return EXIT_ERRORS
    try:
        lab = run_lab(compiled)
    except LabError as exc:
        _tell(f"zonewall lab: {exc}\n")
        return EXIT_USAGE
    sys.stdout.write(render_lab(lab))
    return EXIT_OK if not lab.failures else EXIT_ERRORS


def cmd_build(args: argparse.Namespace) -> int:
    from zonewall.build import build

    result = build(args.file, args.output, args.warnings_as_errors, args.include_path)
    sys.stderr.write(render_diagnostics(result.check))
    if not result.written:
        sys.stdout.write(render_text_summary(result.check))
        _tell(f"nothing written to {args.output}\n", sys.stdout)
        return EXIT_ERRORS
    sys.stdout.write(render_build_summary(result, args.output))
    return EXIT_OK


def _emit(command: str, text: str, output: str | None) -> int:
    """Write a rendered document to OUT (atomically) or to stdout."""
    from zonewall.atomic import write_atomic

    if output is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        write_atomic(output, text)
    except OSError as exc:
        _tell(f"zonewall {command}: cannot write '{output}': {exc.strerror or exc}\n")
        return EXIT_ERRORS
    return EXIT_OK


def cmd_present(args: argparse.Namespace) -> int:
    """`matrix` and `graph`: draw a policy that compiles (failing assertions included)."""
    from zonewall.present import graph_render as gr
    from zonewall.present.conduits import build_conduits

    report = run_check(args.file, include_path=args.include_path)
    if report.compiled is None:
        sys.stderr.write(render_diagnostics(report))
        _tell(f"zonewall {args.command}: nothing drawn: fix the errors above first\n")
        return EXIT_ERRORS
    conduits = build_conduits(report.compiled)
    if args.command == "matrix":
        from zonewall.present.matrix import render_matrix

        text = render_matrix(conduits, args.format, args.width, report.path)
        return _emit("matrix", text, args.output)
    highlight = None
    if args.highlight is not None:
        try:
            highlight = gr.find_assertion(report.assertions, args.highlight, report.path)
        except gr.HighlightError as exc:
            _tell(f"zonewall graph: {exc}\n")
            return EXIT_USAGE
        if highlight.status == "pass":
            _tell(f"zonewall graph: assertion '{highlight.text}' holds: no "
                  "counterexample to highlight\n")
    try:
        text = _render_graph(report, conduits, highlight, args.format)
    except gr.RenderError as exc:
        _tell(f"zonewall graph: {exc}\n")
        return EXIT_ERRORS
    return _emit("graph", text, args.output)


def _render_graph(report: CheckReport, conduits: Conduits, highlight: AssertionResult | None,
                  fmt: str) -> str:
    from zonewall.present import graph_render as gr

    if fmt == "html":
        from zonewall.present.html_report import render_html_report

        return render_html_report(report, conduits, highlight)
    graph = gr.flow_graph(conduits, highlight, report.path)
    render = {"dot": gr.render_dot, "mermaid": gr.render_mermaid, "svg": gr.render_svg}[fmt]
    return render(graph, report.path)
def cmd_diff(args: argparse.Namespace) -> int:
    from zonewall.review.diff import compare, load_side
    from zonewall.review.diff_render import diff_json, diff_markdown, diff_text
    from zonewall.review.sources import GitError

    want = 1 if args.git is not None else 2
    if len(args.files) != want:
        form = "--git REV FILE" if args.git is not None else "OLD NEW"
        _tell(f"zonewall diff: expected {form}, got {len(args.files)} file(s)\n")
        return EXIT_USAGE
    try:
        old = load_side("old", args.files[0], args.git, args.include_path)
    except GitError as exc:
        _tell(f"zonewall diff: {exc}\n")
        return EXIT_USAGE
    new = load_side("new", args.files[-1], include_path=args.include_path)
    broken = [side for side in (old, new) if side.report.compiled is None]
    for side in broken:
        _tell(f"{side.label} policy ({side.title}) has errors:\n")
        sys.stderr.write(render_diagnostics(side.report))
    if broken or old.report.compiled is None or new.report.compiled is None:
        if args.format == "json":
            sys.stdout.write(diff_json(None, old, new, ok=False))
        which = " and ".join(side.label for side in broken)
        _tell(f"zonewall diff: nothing compared: the {which} policy has errors\n")
        return EXIT_ERRORS
    result = compare(old.report.compiled, new.report.compiled)
    failing = bool(result.newly_failing) or (args.fail_on_gained and bool(result.gained))
    if args.format == "json":
        sys.stdout.write(diff_json(result, old, new, ok=not failing))
    elif args.format == "markdown":
        sys.stdout.write(diff_markdown(result, old, new))
    else:
        sys.stdout.write(diff_text(result, old, new))
    return EXIT_ERRORS if failing else EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    from zonewall.review.explain import ExplainError, explain
    from zonewall.review.explain_render import explain_json, explain_text

    ends = list(args.ends)
    if len(ends) != (args.src_ip is None) + (args.dst_ip is None):
        sys.stderr.write("zonewall explain: give SRC and DST (class or external names), "
                         "leaving out the side given by --src-ip or --dst-ip\n")
        return EXIT_USAGE
    src = ends.pop(0) if args.src_ip is None else None
    dst = ends.pop(0) if args.dst_ip is None else None
    report = run_check(args.file, include_path=args.include_path)
    if report.compiled is None:
        sys.stderr.write(render_diagnostics(report))
        sys.stderr.write("zonewall explain: the policy has errors; nothing explained\n")
        return EXIT_ERRORS
    try:
        result = explain(report.compiled, report.sources, src, dst, args.service, args.port,
                         args.src_ip, args.dst_ip)
    except ExplainError as exc:
        _tell(f"zonewall explain: {exc}\n")
        return EXIT_USAGE
    if report.errors:
        _tell(f"note: {args.file} has {report.errors} failing assertion(s); "
              "'zonewall check' lists them\n")
    sys.stdout.write(explain_json(result) if args.format == "json" else explain_text(result))
    return EXIT_OK
def cmd_fmt(args: argparse.Namespace) -> int:
    from zonewall.diagnostics import render_all
    from zonewall.fmt import format_file, unified_diff, write_atomic

    status = EXIT_OK
    for path in args.files:
        result = format_file(path)
        if result.formatted is None:
            sys.stderr.write(render_all(result.diagnostics, result.sources))
            status = EXIT_ERRORS
            continue
        if not result.changed:
            continue
        if args.diff:
            sys.stdout.write(unified_diff(path, result.original, result.formatted))
        if args.check:
            _tell(f"would reformat {path}\n")
            status = EXIT_ERRORS
        elif not args.diff:
            try:
                write_atomic(path, result.formatted)
            except OSError as exc:
                _tell(f"zonewall fmt: cannot write '{path}': "
                      f"{exc.strerror or exc}\n")
                status = EXIT_ERRORS
                continue
            _tell(f"reformatted {path}\n")
    return status


def cmd_check(args: argparse.Namespace) -> int:
    report = run_check(args.file, include_path=args.include_path)
    ok = report.ok(args.warnings_as_errors)
    if args.format == "json":
        sys.stdout.write(to_json(report, args.warnings_as_errors))
    elif args.format == "sarif":
        from zonewall.present.sarif import to_sarif

        sys.stdout.write(to_sarif(report, args.warnings_as_errors))
    elif args.format == "junit":
        from zonewall.present.junit import to_junit

        sys.stdout.write(to_junit(report, args.warnings_as_errors))
    else:
        sys.stderr.write(render_diagnostics(report))
        sys.stdout.write(render_text_summary(report))
    return EXIT_OK if ok else EXIT_ERRORS


@contextlib.contextmanager
def _few_full_collections() -> Iterator[None]:
    """Full garbage collections only every 1,000 young ones instead of every 10.

    A large policy is a few million long-lived IR objects and almost no cyclic garbage, and a
    full collection walks all of them: with CPython's default thresholds a 1,000-class
    `check` spent about a third of its time there.  Young collections still run as usual.
    """
    before = gc.get_threshold()
    gc.set_threshold(before[0], before[1], 1000)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with _few_full_collections():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        if args.command == "check":
            return cmd_check(args)
        if args.command == "build":
            return cmd_build(args)
        if args.command == "lab":
            return cmd_lab(args)
        if args.command == "audit":
            return cmd_audit(args)
        if args.command in ("matrix", "graph"):
            return cmd_present(args)
        if args.command == "diff":
            return cmd_diff(args)
        if args.command == "explain":
            return cmd_explain(args)
        if args.command == "fmt":
            return cmd_fmt(args)
        return EXIT_USAGE  # pragma: no cover - argparse rejects unknown commands
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_ERRORS
    except Exception as exc:  # a bug in zonewall, never a problem in the policy
        if os.environ.get("ZONEWALL_DEBUG"):
            traceback.print_exc()
        _tell(f"zonewall: internal error (this is a bug, please report it): "
              f"{type(exc).__name__}: {exc}\n")
        return EXIT_BUG
