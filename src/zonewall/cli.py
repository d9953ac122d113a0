"""The command line: argv in, text out, exit code.  The only module that prints.

Exit codes: 0 clean, 1 errors (in the policy, or failed assertions), 2 usage.  An unexpected
exception is a bug in zonewall: it is reported as such in one line (set ZONEWALL_DEBUG=1 for
the traceback) with exit code 70.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from zonewall import __version__
from zonewall.ir import CompiledPolicy
from zonewall.report import (
    render_build_summary,
    render_diagnostics,
    render_text_summary,
    run_check,
    to_json,
)

__all__ = ["main"]

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 70


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
    check.add_argument("--format", choices=("text", "json"), default="text",
                       help="text for people (default) or json for CI")
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
    fmt = sub.add_parser("fmt", help="rewrite policies in canonical layout, keeping comments")
    fmt.add_argument("files", metavar="FILE", nargs="+",
                     help="policy files to format (their includes are not followed)")
    fmt.add_argument("--check", action="store_true",
                     help="write nothing; exit 1 and name each file that is not formatted")
    fmt.add_argument("--diff", action="store_true",
                     help="write nothing; print a unified diff of what would change")
    return parser


def _checked(path: str) -> CompiledPolicy | None:
    """Check a policy, print its diagnostics; the compiled policy only when it is clean."""
    report = run_check(path)
    sys.stderr.write(render_diagnostics(report))
    if not report.ok() or report.compiled is None:
        sys.stdout.write(render_text_summary(report))
        return None
    return report.compiled


def cmd_audit(args: argparse.Namespace) -> int:
    from zonewall.verify import ConfigParseError, summarize, validate

    compiled = _checked(args.file)
    if compiled is None:
        return EXIT_ERRORS
    plans = {g.name: g for g in compiled.gateways}
    if args.gateway not in plans:
        known = ", ".join(sorted(plans)) or "none"
        sys.stderr.write(f"zonewall audit: no gateway '{args.gateway}' (gateways: {known})\n")
        return EXIT_USAGE
    plan = plans[args.gateway]
    try:
        with open(args.config, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        sys.stderr.write(f"zonewall audit: cannot read '{args.config}': {exc}\n")
        return EXIT_ERRORS
    try:
        diffs = validate(compiled, plan.name, text, plan.platform, filename=args.config)
    except ConfigParseError as exc:
        sys.stderr.write(f"{args.config}:{exc.line}: error: {exc.message}\n  {exc.text}\n"
                         "zonewall audit reads configs fail-closed: a construct it cannot "
                         "model exactly is an error, never skipped\n")
        return EXIT_ERRORS
    if not diffs:
        sys.stdout.write(f"{args.config}: gateway '{plan.name}' ({plan.platform}) enforces "
                         "exactly the policy: no drift\n")
        return EXIT_OK
    for line in summarize(diffs):
        sys.stdout.write(line + "\n")
    sys.stdout.write(f"{args.config}: drift on gateway '{plan.name}': {len(diffs)} "
                     "difference(s) from the policy\n")
    return EXIT_ERRORS


def cmd_lab(args: argparse.Namespace) -> int:
    from zonewall.lab import LabError, render_lab, run_lab

    compiled = _checked(args.file)
    if compiled is None:
        return EXIT_ERRORS
    try:
        lab = run_lab(compiled)
    except LabError as exc:
        sys.stderr.write(f"zonewall lab: {exc}\n")
        return EXIT_USAGE
    sys.stdout.write(render_lab(lab))
    return EXIT_OK if not lab.failures else EXIT_ERRORS


def cmd_build(args: argparse.Namespace) -> int:
    from zonewall.build import build

    result = build(args.file, args.output, args.warnings_as_errors)
    sys.stderr.write(render_diagnostics(result.check))
    if not result.written:
        sys.stdout.write(render_text_summary(result.check))
        sys.stdout.write(f"nothing written to {args.output}\n")
        return EXIT_ERRORS
    sys.stdout.write(render_build_summary(result, args.output))
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
            sys.stderr.write(f"would reformat {path}\n")
            status = EXIT_ERRORS
        elif not args.diff:
            try:
                write_atomic(path, result.formatted)
            except OSError as exc:
                sys.stderr.write(f"zonewall fmt: cannot write '{path}': "
                                 f"{exc.strerror or exc}\n")
                status = EXIT_ERRORS
                continue
            sys.stderr.write(f"reformatted {path}\n")
    return status


def cmd_check(args: argparse.Namespace) -> int:
    report = run_check(args.file)
    ok = report.ok(args.warnings_as_errors)
    if args.format == "json":
        sys.stdout.write(to_json(report, args.warnings_as_errors))
    else:
        sys.stderr.write(render_diagnostics(report))
        sys.stdout.write(render_text_summary(report))
    return EXIT_OK if ok else EXIT_ERRORS


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "check":
            return cmd_check(args)
        if args.command == "build":
            return cmd_build(args)
        if args.command == "lab":
            return cmd_lab(args)
        if args.command == "audit":
            return cmd_audit(args)
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
        sys.stderr.write(f"zonewall: internal error (this is a bug, please report it): "
                         f"{type(exc).__name__}: {exc}\n")
        return EXIT_BUG
