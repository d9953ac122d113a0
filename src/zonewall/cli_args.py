"""The command line's grammar: every subcommand, its options, a one-line description, an
example and its exit codes (`zonewall COMMAND --help`).  `cli` runs what this parses: each
subcommand's handler is bound with `set_defaults(func=...)`."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from zonewall._version import __version__

__all__ = ["Handler", "build_parser"]

Handler = Callable[[argparse.Namespace], int]

EXIT_CODES = {
    "check": "0 valid and every assertion holds, 1 errors or failed assertions "
    "(or warnings with --warnings-as-errors), 2 usage",
    "build": "0 written, 1 nothing written (errors, failed assertions, a config that does not "
    "prove equal to the policy, an unusable output folder), 2 usage",
    "audit": "0 no drift, 1 drift, 2 cannot audit (the policy has errors, the config cannot "
    "be read or holds a construct that matters and is not modelled) or usage",
    "lab": "0 every probe as the policy says, 1 a probe disagrees or the policy has errors, "
    "2 not runnable here (needs root, Linux network namespaces, iptables/nft)",
    "matrix": "0 drawn, 1 the policy does not compile or OUT cannot be written, 2 usage",
    "graph": "0 drawn, 1 the policy does not compile or OUT cannot be written, 2 usage",
    "diff": "0 compared, 1 an assertion newly fails (or a flow is gained, with "
    "--fail-on-gained) or a side has errors, 2 usage",
    "explain": "0 a verdict was given (permitted or not), 1 the policy does not compile, "
    "2 usage (unknown name, address or service)",
    "fmt": "0 formatted (or nothing to do), 1 a file has syntax errors (or, with --check, is "
    "not formatted), 2 usage",
    "init": "0 written, 1 the starter policy exists already or cannot be written, 2 usage",
    "replay": "0 nothing to fail on, 1 observed traffic the policy would block (or, with "
    "--fail-on violations, traffic an assertion forbids), a flow file that cannot be "
    "read, a policy with errors, or OUT cannot be written (then nothing is); 2 usage",
    "learn": "0 the draft was written, 1 a flow file, class list or the policy cannot be read "
    "(nothing is written), 2 usage",
}

EXAMPLES = {
    "check": "zonewall check policy.zw --format sarif > zonewall.sarif",
    "build": "zonewall build policy.zw -o out/ --warnings-as-errors",
    "audit": "ssh fw1 iptables-save > running.rules && "
    "zonewall audit policy.zw --gateway fw1 --config running.rules",
    "lab": "sudo zonewall lab policy.zw",
    "matrix": "zonewall matrix policy.zw --format markdown -o matrix.md",
    "graph": "zonewall graph policy.zw --format svg -o flows.svg",
    "diff": "zonewall diff --git origin/main policy.zw --format markdown",
    "explain": "zonewall explain policy.zw guest_wifi --dst-ip 10.40.1.5 --service https",
    "fmt": "zonewall fmt --check policies/*.zw",
    "init": "zonewall init site/ && zonewall build site/policy.zw -o site/out",
    "replay": "zonewall replay policy.zw conn.log flows.csv --format html -o replay.html",
    "learn": "zonewall learn conn.log flows.csv --policy policy.zw -o draft.zw",
}

POLICY_HELP = (
    "the policy (.zw); - reads it from standard input (includes then resolve "
    "from the current folder)"
)


class _Parser(argparse.ArgumentParser):
    """Optional positionals may follow options (`explain FILE --src-ip A DST`): plain
    argparse binds them, empty, to the first run of positionals."""

    _inner = False

    def parse_known_args(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        namespace: argparse.Namespace | None = None,
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._inner:  # parse_known_intermixed_args calls back into parse_known_args
            return super().parse_known_args(args, namespace)
        self._inner = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inner = False


def build_parser(handlers: dict[str, Handler]) -> argparse.ArgumentParser:
    """The parser; `handlers` maps each subcommand to the function that runs it."""
    parser = argparse.ArgumentParser(
        prog="zonewall",
        description="Network segmentation policy compiler: check a .zw policy, prove its "
        "assertions, and build proven firewall and switch configs.",
        epilog="Run 'zonewall COMMAND --help' for a command's options, an example and its exit "
        "codes.  Start with 'zonewall init DIR'.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"zonewall {__version__}")
    # every subcommand lets its optional positionals follow options
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    add = _adder(sub, handlers)

    check = add("check", "parse, resolve and prove every assertion of a policy")
    _policy(check)
    check.add_argument(
        "--format",
        choices=("text", "json", "sarif", "junit"),
        default="text",
        help="text for people (default), json for CI, sarif for code scanning, "
        "junit for CI test reports",
    )
    check.add_argument(
        "--warnings-as-errors", action="store_true", help="exit 1 when there is any warning"
    )
    check.add_argument(
        "--inventory",
        metavar="FILE",
        help="a device inventory (CSV: ip, mac, name, type, class; or a NetBox "
        "device export, JSON) to compare with the classes (W119-W123)",
    )

    build = add(
        "build", "check, then write one proven config per gateway, the VLAN plan and manifest.json"
    )
    _policy(build)
    build.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        required=True,
        help="output directory (created if missing; only zonewall's files in it are replaced)",
    )
    build.add_argument(
        "--warnings-as-errors",
        action="store_true",
        help="write nothing and exit 1 when there is any warning",
    )

    audit = add("audit", "compare a config taken from a device with the policy and report drift")
    _policy(audit)
    audit.add_argument(
        "--gateway", required=True, metavar="NAME", help="the gateway the config belongs to"
    )
    audit.add_argument(
        "--config",
        required=True,
        metavar="RUNNING",
        help="what the device prints: iptables-save, nft list ruleset, or IOS "
        "show running-config ('-': standard input)",
    )
    audit.add_argument(
        "--ipv6",
        action="store_true",
        help="RUNNING is ip6tables-save output of an iptables gateway (its IPv6 "
        "companion, which must forward no IPv6)",
    )
    audit.add_argument(
        "--format",
        choices=("text", "json", "sarif"),
        default="text",
        help="text (default), json (docs/language.md, section 12) or sarif",
    )
    audit.add_argument(
        "--counters",
        metavar="FILE",
        help="the device's hit counters (iptables-save -c, iptables -L -v -x -n, "
        "nft list ruleset, IOS show access-lists): report the policy statements "
        "whose rules matched nothing",
    )
    audit.add_argument(
        "--limit",
        type=_positive,
        default=20,
        metavar="N",
        help="drift items shown in text and sarif (default 20; json has all)",
    )

    lab = add(
        "lab",
        "load the built configs into network namespaces and probe every flow "
        "with real sockets (needs root on Linux)",
    )
    _policy(lab)

    matrix = add(
        "matrix",
        "the zone-by-zone table of permitted services, with each conduit's statements and why",
    )
    _policy(matrix)
    _output_args(matrix, ("text", "csv", "markdown", "html"))
    matrix.add_argument(
        "--width",
        type=int,
        default=120,
        metavar="N",
        help="text: print the grid only when it fits in N columns (default 120)",
    )

    graph = add(
        "graph",
        "the flow graph as dot, mermaid, svg (needs Graphviz) or a self-contained html report",
    )
    _policy(graph)
    _output_args(graph, ("dot", "mermaid", "svg", "html"))
    graph.add_argument(
        "--highlight",
        metavar="ASSERTION",
        help="draw this assertion's counterexample in red (its text or line)",
    )

    diff = add(
        "diff",
        "the semantic change between two versions of a policy: flows gained "
        "and lost, assertions, classes, rule counts",
    )
    diff.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="OLD NEW, or with --git REV the one FILE to compare",
    )
    diff.add_argument(
        "--git",
        metavar="REV",
        help="compare FILE as of git revision REV (includes too) with the working tree",
    )
    diff.add_argument(
        "--format",
        choices=("text", "json", "markdown"),
        default="text",
        help="text (default), json for CI, markdown for a pull-request comment",
    )
    diff.add_argument(
        "--fail-on-gained", action="store_true", help="exit 1 when any flow is gained"
    )

    explain = add("explain", "is a flow permitted, and which statements and gateways decide it")
    _policy(explain)
    explain.add_argument(
        "ends",
        nargs="*",
        metavar="NAME",
        help="SRC and DST: class or external names, tag:T or criticality:L "
        "(leave out the side given by --src-ip or --dst-ip)",
    )
    what = explain.add_mutually_exclusive_group()
    what.add_argument("--service", metavar="S", help="a service defined in the policy")
    what.add_argument(
        "--port",
        metavar="P",
        help="a packet set such as tcp/443, udp/53, tcp/8080-8090, icmp/echo-request",
    )
    explain.add_argument(
        "--src-ip",
        metavar="A",
        help="a source address: explain for the class or external it belongs to",
    )
    explain.add_argument("--dst-ip", metavar="B", help="a destination address")
    explain.add_argument("--format", choices=("text", "json"), default="text")

    fmt = add("fmt", "rewrite policies in canonical layout, keeping comments")
    fmt.add_argument(
        "files",
        metavar="FILE",
        nargs="+",
        help="policy files to format (their includes are not followed)",
    )
    fmt.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and name each file that is not formatted",
    )
    fmt.add_argument(
        "--diff",
        action="store_true",
        help="write nothing; print a unified diff of what would change",
    )

    init = add(
        "init",
        "write a small commented starter policy (DIR/policy.zw) that checks and builds clean",
    )
    init.add_argument(
        "dir",
        nargs="?",
        default=".",
        metavar="DIR",
        help="where to write policy.zw (created if missing; default: here)",
    )

    replay = add(
        "replay",
        "judge observed traffic (flow logs) by the policy: what it would "
        "block, allows never used, assertions already violated, unknown addresses",
    )
    _policy(replay)
    replay.add_argument(
        "flows",
        nargs="*",
        metavar="FLOWS",
        help="flow files: CSV, nfdump/pmacct CSV, Zeek conn.log (TSV or JSON), "
        "kernel LOG or IOS ACL log lines, the aggregated table; .gz too",
    )
    replay.add_argument(
        "--format",
        choices=("text", "json", "markdown", "html"),
        default="text",
        help="text (default), json for tools, markdown for a change ticket, html: one "
        "self-contained page with the observed traffic drawn over the flow graph",
    )
    replay.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="write the report here (atomically; never through a symlink; nothing on "
        "failure); default: standard output",
    )
    replay.add_argument(
        "--fail-on",
        choices=("blocked", "violations", "none"),
        default="blocked",
        help="exit 1 when observed traffic would be blocked (default), when "
        "it violates an assertion, or never",
    )
    replay.add_argument(
        "--nodes",
        action="store_true",
        help="print the policy's address-to-node table (CSV lo,hi,node) for "
        "computing the aggregated table elsewhere, and exit",
    )

    learn = add(
        "learn",
        "write a draft policy from observed traffic: one allow per class "
        "pair and service seen, with what was seen as its why",
    )
    learn.add_argument("flows", nargs="+", metavar="FLOWS", help="flow files, as replay reads them")
    learn.add_argument(
        "--policy",
        metavar="POLICY",
        help="take classes, externals, services and gateways from this policy",
    )
    learn.add_argument(
        "--classes",
        metavar="CSV",
        help="or take the classes from this list (ip or subnet, class, "
        "optional criticality; a NetBox export too)",
    )
    learn.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="write the draft here (atomically; never through a symlink); default: standard output",
    )
    learn.add_argument(
        "--min-flows",
        type=int,
        default=1,
        metavar="N",
        help="a service seen in fewer flows between a pair is a comment for "
        "review, not an allow (default 1: every flow seen is allowed)",
    )

    for name, command in sub.choices.items():
        command.add_argument(
            "-q",
            "--quiet",
            action="store_true",
            help="print only errors and the result (no notes, no progress)",
        )
        if name not in ("fmt", "init"):  # fmt never follows includes
            command.add_argument(
                "--include-path",
                action="append",
                default=[],
                metavar="DIR",
                help="also allow includes from DIR (repeatable); by default "
                "an include must stay inside the root policy's folder",
            )
    return parser


def _adder(
    sub: argparse._SubParsersAction[_Parser], handlers: dict[str, Handler]
) -> Callable[[str, str], argparse.ArgumentParser]:
    def add(name: str, summary: str) -> argparse.ArgumentParser:
        command = sub.add_parser(
            name,
            help=summary,
            description=summary[0].upper() + summary[1:] + ".",
            epilog=f"example:\n  {EXAMPLES[name]}\n\nexit codes:\n  {EXIT_CODES[name]}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.set_defaults(func=handlers[name])
        return command

    return add


def _policy(command: argparse.ArgumentParser) -> None:
    command.add_argument("file", metavar="FILE", help=POLICY_HELP)


def _output_args(command: argparse.ArgumentParser, formats: tuple[str, ...]) -> None:
    """`--format` (the first of `formats` by default) and `-o OUT`, as matrix and graph take
    them."""
    command.add_argument("--format", choices=formats, default=formats[0])
    command.add_argument("-o", "--output", metavar="OUT", help="write to OUT instead of stdout")


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not '{text}'")
    return int(text)
