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
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TextIO

from zonewall.cli_args import Handler, build_parser
from zonewall.diagnostics import Diagnostic
from zonewall.ir import CompiledPolicy
from zonewall.present.check import (
    each_diagnostic,
    each_json_piece,
    render_build_summary,
    render_text_summary,
)
from zonewall.report import CheckReport, run_check
from zonewall.text import file_name, terminal_text

__all__ = ["main"]

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 70


def _tell(text: str, stream: TextIO | None = None) -> None:
    """Write a message of the CLI's own (stderr unless told): file names, arguments, a
    config's lines and exception texts in it are the user's, so each line is written with
    its control characters escaped (`terminal_text`)."""
    (stream or sys.stderr).write("\n".join(terminal_text(line) for line in text.split("\n")))


def _parser() -> argparse.ArgumentParser:
    return build_parser(HANDLERS)


STDIN = "-"
STDIN_NAME = "<stdin>"


def _check(args: argparse.Namespace) -> CheckReport:
    """`run_check` of the command's policy: a file, or standard input for `-` (its includes
    then resolve from, and must stay inside, the current folder)."""
    path, read = _policy_source(args.file)
    return run_check(path, read, include_path=args.include_path)


def _policy_source(path: str) -> tuple[str, Callable[[str], bytes] | None]:
    if path != STDIN:
        return path, None
    from zonewall.dsl.parser import MAX_FILE_BYTES, read_included

    data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)

    def read(name: str) -> bytes:
        if name != STDIN_NAME:
            return read_included(name)
        if len(data) > MAX_FILE_BYTES:
            raise OSError(f"standard input is larger than {MAX_FILE_BYTES // (1 << 20)} MiB")
        return data

    return STDIN_NAME, read


def _colour_wanted(stream: TextIO) -> bool:
    """Colour on a terminal only: never with NO_COLOR set (https://no-color.org), TERM=dumb,
    in a pipe, a file or a CI log."""
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _write_diagnostics(report: CheckReport, args: argparse.Namespace | None = None) -> None:
    """The report's diagnostics on stderr, coloured on a terminal; with --quiet only those
    that fail the command."""
    quiet, strict = getattr(args, "quiet", False), getattr(args, "warnings_as_errors", False)
    # one diagnostic at a time: all of them at once can be a hundred megabytes of text
    for text in each_diagnostic(report, quiet, strict, _colour_wanted(sys.stderr)):
        sys.stderr.write(text)


def _write_all(diags: Iterable[Diagnostic], sources: Mapping[str, str]) -> None:
    """Diagnostics that are not a check report's (fmt, learn) on stderr, as above."""
    from zonewall.diagnostics import render_each

    for text in render_each(diags, sources, _colour_wanted(sys.stderr)):
        sys.stderr.write(text)


def _checked(args: argparse.Namespace) -> CompiledPolicy | None:
    """Check a policy, print its diagnostics; the compiled policy only when it is clean."""
    report = _check(args)
    _write_diagnostics(report, args)
    if not report.ok() or report.compiled is None:
        sys.stdout.write(render_text_summary(report))
        return None
    return report.compiled


def cmd_audit(args: argparse.Namespace) -> int:
    """Exit 0 no drift, 1 drift, 2 cannot audit (policy errors, unreadable or unmodelled
    config, usage)."""
    from zonewall.present.audit import audit_json, audit_sarif, audit_text
    from zonewall.review.audit import audit_error_report, run_audit

    compiled = _checked(args)
    if compiled is None:
        _tell(
            "zonewall audit: the policy must check clean before a config can be audited "
            "against it\n"
        )
        return EXIT_USAGE
    plans = {g.name: g for g in compiled.gateways}
    if args.gateway not in plans:
        known = ", ".join(sorted(plans)) or "none"
        _tell(f"zonewall audit: no gateway '{args.gateway}' (gateways: {known})\n")
        return EXIT_USAGE
    plan = plans[args.gateway]
    if args.config == STDIN and args.file == STDIN:
        _tell("zonewall audit: the policy and the config cannot both be standard input\n")
        return EXIT_USAGE
    # file names as text in every format (`file_name`: a name's bytes that are not UTF-8)
    policy, config = file_name(args.file), file_name(args.config)
    try:
        text = _read_config(args.config)
    except OSError as exc:
        report = audit_error_report(
            policy,
            plan.name,
            plan.platform,
            config,
            f"cannot read the config: {exc.strerror or file_name(str(exc))}",
        )
    else:
        platform = _audit_platform(args, plan.platform, text)
        if platform is None:
            return EXIT_USAGE
        counters = _read_counters(args)
        if isinstance(counters, int):
            return counters
        name = STDIN_NAME if args.config == STDIN else config
        report = run_audit(compiled, policy, plan.name, platform, name, text, counters)
    if args.format == "json":
        sys.stdout.write(audit_json(report))
    elif args.format == "sarif":
        sys.stdout.write(audit_sarif(report, args.limit))
    else:
        out = audit_text(report, args.limit, getattr(args, "quiet", False))
        stream = sys.stderr if report["result"] == "cannot-audit" else sys.stdout
        stream.write(out)  # audit_text escapes the user's and the device's text
    return int(report["exit_code"])


def _read_config(path: str) -> str:
    """The device output: a file, or standard input for `-` (`ssh fw iptables-save |
    zonewall audit ... --config -`).  A banner or description in another encoding must not
    stop the audit: such bytes become U+FFFD, and a line the audit reads with one in it fails
    as unmodelled."""
    if path == STDIN:
        return sys.stdin.buffer.read().decode("utf-8", errors="replace")
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.read()


def _read_counters(args: argparse.Namespace) -> str | None | int:
    """The `--counters` file's text (None without it), or the exit code when unreadable."""
    if args.counters is None:
        return None
    try:
        with open(args.counters, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        _tell(f"zonewall audit: cannot read the counters '{args.counters}': {exc}\n")
        return EXIT_USAGE


def _audit_platform(args: argparse.Namespace, platform: str, text: str) -> str | None:
    """The verifier platform for `audit`: the gateway's, or `ip6tables` for its IPv6
    companion.  A save file whose own header names the other family is a usage error."""
    header = next((line for line in text.splitlines() if line.startswith("# Generated by ")), "")
    says_v6 = header.startswith("# Generated by ip6tables-save")
    says_v4 = header.startswith("# Generated by iptables-save")
    if args.ipv6 and platform != "iptables":
        _tell(
            f"zonewall audit: --ipv6 is for the ip6tables-save output of an "
            f"iptables gateway; '{args.gateway}' is {platform} (its config "
            "already covers IPv6)\n"
        )
        return None
    if platform == "iptables" and says_v6 and not args.ipv6:
        _tell(
            f"zonewall audit: '{args.config}' is ip6tables-save output; add --ipv6 "
            "to audit it as the gateway's IPv6 companion\n"
        )
        return None
    if args.ipv6 and says_v4:
        _tell(f"zonewall audit: '{args.config}' is iptables-save output (IPv4); drop --ipv6\n")
        return None
    return "ip6tables" if args.ipv6 else platform


def cmd_lab(args: argparse.Namespace) -> int:
    from zonewall.lab import LabError, run_lab
    from zonewall.present.lab import render_lab

    compiled = _checked(args)
    if compiled is None:
        return EXIT_ERRORS
    try:
        with _Progress("lab", quiet=args.quiet) as progress:
            lab = run_lab(compiled, progress.step)
    except LabError as exc:
        _tell(f"zonewall lab: {exc}\n")
        return EXIT_USAGE
    sys.stdout.write(render_lab(lab))
    return EXIT_OK if not lab.failures else EXIT_ERRORS


def cmd_build(args: argparse.Namespace) -> int:
    from zonewall.build import build

    problem = _output_problem(args.output, args.file)
    if problem:
        _tell(f"zonewall build: -o {args.output}: {problem}\n")
        return EXIT_USAGE
    path, read = _policy_source(args.file)
    with _Progress("build", quiet=args.quiet) as progress:
        result = build(
            path,
            args.output,
            args.warnings_as_errors,
            args.include_path,
            read,
            progress=progress.step,
        )
    _write_diagnostics(result.check, args)
    if not result.written:
        sys.stdout.write(render_text_summary(result.check, args.quiet))
        _tell(f"nothing written to {args.output}\n", sys.stdout)
        return EXIT_ERRORS
    sys.stdout.write(render_build_summary(result, args.output, args.quiet))
    return EXIT_OK


def _output_problem(output: str, policy: str) -> str:
    """Why `-o OUTPUT` cannot be build's output folder ("" when it can be)."""
    if os.path.isdir(output):
        return ""
    if os.path.lexists(output):
        same = policy != STDIN and os.path.exists(policy) and os.path.samefile(output, policy)
        what = "is the policy file itself" if same else "exists and is not a folder"
        return f"{what}; -o takes the output folder (e.g. -o out/)"
    if output.endswith(".zw"):
        return "looks like a policy file; -o takes the output folder (e.g. -o out/)"
    return ""


class _Progress:
    """One self-erasing status line on stderr for work that takes over a second: only on a
    terminal, never with --quiet, so pipes and CI logs never see it."""

    DELAY = 1.0

    def __init__(self, command: str, quiet: bool = False) -> None:
        self.command = command
        self.live = not quiet and sys.stderr.isatty() and not os.environ.get("CI")
        self.start = time.monotonic()
        self.shown = False

    def step(self, done: int, total: int, what: str) -> None:
        if not self.live or time.monotonic() - self.start < self.DELAY:
            return
        sys.stderr.write(f"\r\033[Kzonewall {self.command}: {done}/{total} {terminal_text(what)}")
        sys.stderr.flush()
        self.shown = True

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


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
    from zonewall.present.graph import render_graph

    report = _check(args)
    if report.compiled is None:
        _write_diagnostics(report)
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
            _tell(
                f"zonewall graph: assertion '{highlight.text}' holds: no "
                "counterexample to highlight\n"
            )
    try:
        text = render_graph(report, conduits, highlight, args.format)
    except gr.RenderError as exc:
        _tell(f"zonewall graph: {exc}\n")
        return EXIT_ERRORS
    return _emit("graph", text, args.output)


def cmd_diff(args: argparse.Namespace) -> int:
    from zonewall.present.diff import diff_json, diff_markdown, diff_text
    from zonewall.review.diff import compare, load_side
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
        _write_diagnostics(side.report)
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
    from zonewall.present.explain import explain_json, explain_text
    from zonewall.review.explain import ExplainError, explain

    ends = list(args.ends)
    for i, end in enumerate(ends):
        if _looks_like_address(end):
            side = "--src-ip" if i == 0 and args.src_ip is None else "--dst-ip"
            _tell(
                f"zonewall explain: '{end}' is an address, not a class or "
                f"external name: give it as {side} {end} (e.g. zonewall explain "
                f"FILE {side} {end} OTHER_NAME)\n"
            )
            return EXIT_USAGE
    if len(ends) != (args.src_ip is None) + (args.dst_ip is None):
        sys.stderr.write(
            "zonewall explain: give SRC and DST (class or external names), "
            "leaving out the side given by --src-ip or --dst-ip\n"
        )
        return EXIT_USAGE
    src = ends.pop(0) if args.src_ip is None else None
    dst = ends.pop(0) if args.dst_ip is None else None
    report = _check(args)
    if report.compiled is None:
        _write_diagnostics(report)
        sys.stderr.write("zonewall explain: the policy has errors; nothing explained\n")
        return EXIT_ERRORS
    try:
        result = explain(
            report.compiled,
            report.sources,
            src,
            dst,
            args.service,
            args.port,
            args.src_ip,
            args.dst_ip,
        )
    except ExplainError as exc:
        _tell(f"zonewall explain: {exc}\n")
        return EXIT_USAGE
    if report.errors:
        _tell(
            f"note: {args.file} has {report.errors} failing assertion(s); "
            "'zonewall check' lists them\n"
        )
    sys.stdout.write(explain_json(result) if args.format == "json" else explain_text(result))
    return EXIT_OK


def _looks_like_address(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def cmd_fmt(args: argparse.Namespace) -> int:
    from zonewall.fmt import format_file, unified_diff, write_atomic

    status = EXIT_OK
    for path in args.files:
        result = format_file(path)
        if result.formatted is None:
            _write_all(result.diagnostics, result.sources)
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
                _tell(f"zonewall fmt: cannot write '{path}': {exc.strerror or exc}\n")
                status = EXIT_ERRORS
                continue
            _tell(f"reformatted {path}\n")
    return status


def cmd_check(args: argparse.Namespace) -> int:
    report = _check(args)
    if args.inventory:
        from zonewall.traffic.inventory import with_inventory

        report = with_inventory(report, args.inventory)
    ok = report.ok(args.warnings_as_errors)
    if args.format == "json":
        for piece in each_json_piece(report, args.warnings_as_errors):
            sys.stdout.write(piece)
    elif args.format == "sarif":
        from zonewall.present.sarif import to_sarif

        sys.stdout.write(to_sarif(report, args.warnings_as_errors))
    elif args.format == "junit":
        from zonewall.present.junit import to_junit

        sys.stdout.write(to_junit(report, args.warnings_as_errors))
    else:
        _write_diagnostics(report, args)
        sys.stdout.write(render_text_summary(report, args.quiet))
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


def cmd_init(args: argparse.Namespace) -> int:
    from zonewall.starter import write_starter

    try:
        path = write_starter(args.dir)
    except FileExistsError:
        _tell(
            f"zonewall init: {os.path.join(args.dir, 'policy.zw')} exists already; "
            "nothing written (choose another DIR)\n"
        )
        return EXIT_ERRORS
    except OSError as exc:
        _tell(f"zonewall init: cannot write into '{args.dir}': {exc.strerror or exc}\n")
        return EXIT_ERRORS
    if not args.quiet:
        _tell(
            f"wrote {path}\nnext: zonewall check {path} && "
            f"zonewall build {path} -o {os.path.join(args.dir, 'out')}\n",
            sys.stdout,
        )
    return EXIT_OK


def _an_input(output: str | None, inputs: Sequence[str]) -> str:
    """Which input `-o OUTPUT` would overwrite ("" when none)."""
    if output is None or not os.path.lexists(output):
        return ""
    for path in inputs:
        with contextlib.suppress(OSError):
            if path != STDIN and os.path.samefile(output, path):
                return f"the input file '{path}'"
    return ""


def cmd_replay(args: argparse.Namespace) -> int:
    from zonewall.traffic.formats import FlowInputError

    if not args.flows and not args.nodes:
        _tell(
            "zonewall replay: give the flow files to replay (zonewall replay POLICY "
            "FLOWS...), or --nodes\n"
        )
        return EXIT_USAGE
    clash = _an_input(args.output, [args.file, *args.flows])
    if clash:
        _tell(f"zonewall replay: -o {args.output} is {clash}: give another file\n")
        return EXIT_USAGE
    report = _check(args)
    if report.compiled is None:
        _write_diagnostics(report)
        _tell("zonewall replay: the policy has errors; nothing replayed\n")
        return EXIT_ERRORS
    from zonewall.traffic.engine import NodeTable, aggregate

    nodes = NodeTable(report.compiled)
    if args.nodes:
        return _replay_output(args.output, (nodes.csv(),), EXIT_OK)
    try:
        observed = aggregate(report.compiled, args.flows, nodes)
    except FlowInputError as exc:
        _tell(f"zonewall replay: {exc}\n")
        return EXIT_ERRORS
    from zonewall.present import replay as present
    from zonewall.present.replay_html import replay_html
    from zonewall.traffic.replay import judge

    result = judge(report.compiled, report.sources, observed, nodes)
    # JSON comes in pieces, written as they come: a huge report is never one string
    if args.format == "json":
        chunks: Iterable[str] = present.replay_json_chunks(
            result, file_name(args.file), args.fail_on
        )
    elif args.format == "html":
        chunks = (replay_html(result, report, file_name(args.file), args.fail_on),)
    else:
        render = present.replay_markdown if args.format == "markdown" else present.replay_text
        chunks = (render(result, file_name(args.file), args.fail_on),)
    code = EXIT_ERRORS if present.failing(result, args.fail_on) else EXIT_OK
    return _replay_output(args.output, chunks, code)


def _replay_output(output: str | None, chunks: Iterable[str], code: int) -> int:
    """`replay`'s output on stdout, or written atomically to `-o OUTPUT` (nothing written on
    failure); `code` when it is out."""
    if output is None:
        for chunk in chunks:
            sys.stdout.write(chunk)
        return code
    from zonewall.atomic import write_atomic_chunks

    try:
        write_atomic_chunks(output, chunks)
    except OSError as exc:
        _tell(f"zonewall replay: cannot write '{output}': {exc.strerror or exc}; nothing written\n")
        return EXIT_ERRORS
    return code


def cmd_learn(args: argparse.Namespace) -> int:
    from zonewall.traffic.engine import aggregate
    from zonewall.traffic.formats import FlowInputError
    from zonewall.traffic.inventory import InventoryError, read_inventory
    from zonewall.traffic.learn import base_from_classes, base_from_policy, learn

    if (args.policy is None) == (args.classes is None) or args.min_flows < 1:
        _tell(
            "zonewall learn: give the classes with --policy POLICY or --classes CSV (one of "
            "them), and --min-flows of 1 or more\n"
        )
        return EXIT_USAGE
    if args.policy is not None:
        path, read = _policy_source(args.policy)
        report = run_check(path, read, include_path=args.include_path)
        if report.compiled is None or report.errors:
            _write_diagnostics(report)
            _tell("zonewall learn: the policy has errors; nothing learned\n")
            return EXIT_ERRORS
        base = base_from_policy(report)
    else:
        try:
            base = base_from_classes(*read_inventory(args.classes, subnets=True))
        except InventoryError as exc:
            sources = {args.classes: exc.source} if exc.source else {}
            _write_all([exc.diagnostic], sources)
            return EXIT_ERRORS
    try:
        observed = aggregate(base.compiled, args.flows)
    except FlowInputError as exc:
        _tell(f"zonewall learn: {exc}\n")
        return EXIT_ERRORS
    clash = _an_input(
        args.output, [*args.flows, *(p for p in (args.policy, args.classes) if p is not None)]
    )
    if clash:
        _tell(f"zonewall learn: -o {args.output} is {clash}: give another file\n")
        return EXIT_USAGE
    out_name = args.output or "learned.zw"
    draft = learn(base, observed, args.flows, args.min_flows, out_name)
    if args.output:
        from zonewall.atomic import write_atomic

        try:
            write_atomic(args.output, draft.text)
        except OSError as exc:
            _tell(
                f"zonewall learn: cannot write '{args.output}': {exc.strerror or exc}; "
                "nothing written\n"
            )
            return EXIT_ERRORS
    else:
        sys.stdout.write(draft.text)
    if not args.quiet:
        codes = sorted({d.code for d in draft.report.diagnostics})
        _tell(
            f"zonewall learn: {draft.allows} allow(s), {draft.review} for review"
            + (f" -> {args.output}" if args.output else "")
            + f"; the draft checks with no error, {draft.report.warnings} warning(s)"
            + (f" ({', '.join(codes)}: run zonewall check on it)" if codes else "")
            + "\n"
        )
    return EXIT_OK


HANDLERS: dict[str, Handler] = {
    "check": cmd_check,
    "build": cmd_build,
    "audit": cmd_audit,
    "lab": cmd_lab,
    "matrix": cmd_present,
    "graph": cmd_present,
    "diff": cmd_diff,
    "explain": cmd_explain,
    "fmt": cmd_fmt,
    "init": cmd_init,
    "replay": cmd_replay,
    "learn": cmd_learn,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:  # bare `zonewall`: what it is and what to type next
        sys.stdout.write(parser.format_help())
        return EXIT_OK
    args = parser.parse_args(argv)
    with _few_full_collections():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        func: Handler = args.func
        return func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_ERRORS
    except Exception as exc:  # a bug in zonewall, never a problem in the policy
        if os.environ.get("ZONEWALL_DEBUG"):
            traceback.print_exc()
        _tell(
            f"zonewall: internal error (this is a bug, please report it): "
            f"{type(exc).__name__}: {exc}\n"
        )
        return EXIT_BUG
