"""`build` as a library call: check, lower, render, verify, then write atomically.

Every rendered config is read back by the independent evaluators (`zonewall.verify`) and
compared with the policy before anything is written (translation validation).

Nothing is written unless `check` is clean and every backend accepts the policy: all outputs
are rendered in memory first.  `zonewall.outdir` then switches the folder from the old build to
the new one with `manifest.json` as the commit record, never writing through a link, and
removes the files a previous build listed in its manifest but this build no longer produces.
The output holds no timestamps, so the same policy gives the same bytes on every machine and
under every hash seed.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from zonewall._version import __version__
from zonewall.backends import get_backend
from zonewall.backends.base import Feature, gateway_view, lower_gateway
from zonewall.backends.cisco_ios.names import stated_suffix
from zonewall.backends.linux_interfaces import interface_configs, interface_notes
from zonewall.backends.vlan_plan import vlan_plan
from zonewall.diagnostics import Diagnostic, Severity, Span, sort_diagnostics
from zonewall.ir import CompiledPolicy, GatewayPlan
from zonewall.outdir import describe, write_outputs
from zonewall.report import CheckReport, run_check
from zonewall.verify import ConfigParseError, summarize, validate
from zonewall.verify.parallel import forked

__all__ = ["BuildReport", "Output", "build"]

MAX_NOTES = 10
# The most rules one gateway's config may have (E401 above it).  Rendering, and above all
# proving, a config costs time and memory per rule (about 2.5 KB each when the rules are class
# pairs), and allows between large tags on iptables/nftables expand to rules per class pair:
# 4,000 classes in 20 tags with 20 tag-to-tag allows are 3.2 million rules, which exhausted
# 4 GB.  1,000 such classes (206,000 rules) build in 500 MB; the largest benchmarked estate
# (1,000 classes, 20,000 allows) needs about 60,000 per gateway.  Cisco ACLs have their own,
# smaller budget per ACL.
MAX_CONFIG_RULES = 400_000

# Told (done, total, what) as gateways are proven: `build`'s progress line.
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True, slots=True)
class Output:
    path: PurePosixPath
    text: str
    gateway: str | None
    platform: str | None
    kind: str  # config | ipv6-companion | switch-config | interface-config | vlan-plan
    rules: int | None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass
class BuildReport:
    check: CheckReport
    outputs: list[Output] = field(default_factory=list)
    written: bool = False
    notes: list[str] = field(default_factory=list)  # for the summary, not diagnostics

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.check.diagnostics


def render_outputs(
    report: CheckReport, progress: Progress | None = None
) -> tuple[list[Output], list[Diagnostic]]:
    """Every output file of a checked policy, in memory, or the backend errors."""
    compiled = report.compiled
    assert compiled is not None
    diags: list[Diagnostic] = []
    outputs: list[Output] = []
    for plan, steps in zip(compiled.gateways, all_gateway_steps(compiled), strict=True):
        for step in steps:
            if isinstance(step, Diagnostic):
                diags.append(step)
            else:
                path, text, count, kind = step
                outputs.append(Output(path, text, plan.name, plan.platform, kind, count))
    switch_of = {
        f"{g.name}-switch.ios": g.name for g in compiled.gateways if g.platform == "cisco-ios"
    }
    # the switch files bind the ACLs of each gateway's .ios file: names with its suffix
    suffixes = {
        o.gateway: stated_suffix(o.text)
        for o in outputs
        if o.platform == "cisco-ios" and o.gateway is not None
    }
    for path, text in sorted(vlan_plan(compiled, suffixes).items()):
        gateway = switch_of.get(str(path))
        if gateway is None:
            outputs.append(Output(path, text, None, None, "vlan-plan", None))
        else:
            outputs.append(Output(path, text, gateway, "cisco-ios", "switch-config", None))
    for model, text in interface_configs(compiled):
        outputs.append(
            Output(model.path, text, model.gateway, model.platform, "interface-config", None)
        )
    return outputs, diags


# A gateway's diagnostics and its proven configs (path, text, rule count, kind), in order.
_Step = Diagnostic | tuple[PurePosixPath, str, int, str]
# What proves a companion file (by its manifest kind) instead of the gateway's platform.
COMPANION_VERIFIER = {"ipv6-companion": "ip6tables"}


def gateway_steps(compiled: CompiledPolicy, plan: GatewayPlan, workers: int = 1) -> list[_Step]:
    """One gateway: the backend's check and lowering, then each rendered config, or, when
    translation validation finds it does not enforce exactly the policy, the error in its
    place.  `workers`: the processes its translation validation may use."""
    backend = get_backend(plan.platform)
    lowered = lower_gateway(backend, compiled, gateway_view(compiled, plan.name))
    steps: list[_Step] = list(lowered.diagnostics)
    model = lowered.model
    if model is None:  # an error: fail closed, nothing is rendered for this gateway
        return steps
    # W113 (stateless replies) comes from `check` (compiler/gateways.py), not from here
    rules = backend.rule_count(model)
    if rules > MAX_CONFIG_RULES:
        return [*steps, _too_many_rules(plan, rules)]
    for path, text in sorted(backend.render(model).items()):
        kind = backend.output_kind(path)
        problem = translation_problem(
            compiled, plan, path, text, COMPANION_VERIFIER.get(kind, plan.platform), workers
        )
        count = backend.output_rule_count(model, path)
        steps.append((path, text, count, kind) if problem is None else problem)
    return steps


def _too_many_rules(plan: GatewayPlan, rules: int) -> Diagnostic:
    return Diagnostic(
        Severity.ERROR,
        "E401",
        f"gateway '{plan.name}' ({plan.platform}) would need "
        f"{rules:,} rules, more than the {MAX_CONFIG_RULES:,} zonewall writes and proves for "
        "one gateway; on this platform an allow between groups of classes (tags) takes one "
        "rule per pair of their subnets: serve the classes from more gateways, give classes "
        "that are reached together one covering subnet, or use platform cisco-ios with "
        "object-groups",
        plan.span,
    )


# Below this many flow key ranges, starting worker processes costs more than it saves.
PARALLEL_MIN_KEYS = 2000
# The most processes a build uses at once (default: the CPUs this process may run on); 1
# builds and proves everything in this process.
WORKERS_VARIABLE = "ZONEWALL_WORKERS"
_POLICY: CompiledPolicy | None = None
_SPLIT: tuple[int, int] = (-1, 1)  # (gateway, workers for its proof) in the gateway workers


def cpus() -> int:
    """How many processes a build may use: ZONEWALL_WORKERS when it is a positive whole
    number (anything else means 1: serial is always right), else the usable CPUs."""
    value = os.environ.get(WORKERS_VARIABLE)
    if value is not None:
        return int(value) if value.strip().isdigit() and int(value) > 0 else 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def proof_split(compiled: CompiledPolicy, cpus: int) -> tuple[int, int]:
    """(gateway index, processes for its translation validation): with fewer gateways than
    CPUs, the spare CPUs go to the gateway serving the most classes (`verify.parallel`
    splits its proof by ingress interface, so by source class); one process per CPU in all."""
    plans = compiled.gateways
    spare = cpus - len(plans)
    if spare < 1 or not plans:
        return -1, 1
    biggest = max(range(len(plans)), key=lambda i: (len(plans[i].classes), -i))
    return biggest, 1 + spare


def all_gateway_steps(
    compiled: CompiledPolicy, progress: Progress | None = None
) -> list[list[_Step]]:
    """`gateway_steps` for every gateway, in order.

    Gateways are independent, so large policies build them in parallel, one forked worker
    per CPU (the workers inherit the compiled policy instead of receiving a pickled copy);
    small policies, one-CPU machines and platforms without `fork` build in this process.
    Either way the results, and so the output, are the same.
    """
    plans = compiled.gateways
    available = cpus()
    workers = min(len(plans), available)
    size = sum(len(f.packets.intervals) for f in compiled.flows)
    forks = "fork" in multiprocessing.get_all_start_methods()
    split = proof_split(compiled, available) if size >= PARALLEL_MIN_KEYS and forks else (-1, 1)
    if workers < 2 or size < PARALLEL_MIN_KEYS or not forks:
        steps = []
        for i, plan in enumerate(plans):
            if progress is not None:
                progress(i, len(plans), f"proving {plan.name}")
            steps.append(gateway_steps(compiled, plan, split[1] if i == split[0] else 1))
        return steps
    global _POLICY, _SPLIT
    _POLICY, _SPLIT = compiled, split
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            results = []
            for i, result in enumerate(pool.imap(_gateway_job, range(len(plans)), chunksize=1)):
                if progress is not None:
                    progress(i + 1, len(plans), f"gateways proven ({plans[i].name})")
                results.append(result)
            return results
    finally:
        _POLICY, _SPLIT = None, (-1, 1)


def _gateway_job(i: int) -> list[_Step]:
    assert _POLICY is not None  # set by all_gateway_steps before the workers were forked
    return gateway_steps(_POLICY, _POLICY.gateways[i], _SPLIT[1] if i == _SPLIT[0] else 1)


def translation_problem(
    compiled: CompiledPolicy,
    plan: GatewayPlan,
    path: PurePosixPath,
    text: str,
    platform: str | None = None,
    workers: int = 1,
) -> Diagnostic | None:
    """Translation validation: the rendered text, read back by `zonewall.verify` (which shares
    no code with the backends), must permit exactly what the policy says this gateway must
    (`platform` "ip6tables" for the IPv6 companion: it must forward no IPv6 at all), proven
    by up to `workers` processes (the same answer whatever the number)."""
    jobs = forked(workers) if workers > 1 else None
    try:
        diffs = validate(
            compiled, plan.name, text, platform or plan.platform, filename=str(path), jobs=jobs
        )
    except ConfigParseError as exc:
        return Diagnostic(
            Severity.ERROR,
            "E405",
            f"generated {path} cannot be read back for verification "
            f"(this is a zonewall bug, nothing was written): line {exc.line}: {exc.message}",
            plan.span,
        )
    if not diffs:
        return None
    notes = tuple((line, None) for line in summarize(diffs)[:MAX_NOTES])
    return Diagnostic(
        Severity.ERROR,
        "E404",
        f"generated {path} for gateway '{plan.name}' does not enforce "
        f"exactly the policy ({len(diffs)} differences; this is a zonewall bug, nothing was "
        "written)",
        plan.span,
        notes,
    )


def manifest(report: CheckReport, outputs: list[Output]) -> str:
    assert report.compiled is not None
    doc = {
        "zonewall_version": __version__,
        "policy": {
            "files": [{"path": f.path, "sha256": f.sha256} for f in report.compiled.policy.files]
        },
        "outputs": [
            {
                "path": str(o.path),
                "gateway": o.gateway,
                "platform": o.platform,
                "kind": o.kind,
                "sha256": o.sha256,
                "rules": o.rules,
            }
            for o in sorted(outputs, key=lambda o: str(o.path))
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def closed_box_notes(policy: CompiledPolicy) -> list[str]:
    """One line per gateway that filters traffic to itself and that nothing may reach: its own
    addresses are closed on every interface it serves, which locks out management done in-band.
    A note for the summary, not a warning: a box managed out of band is right to be closed."""
    reached = {f.gateway for f in policy.gateway_flows}
    vty = {"cisco-ios": " and its vty lines take no session on any interface"}
    return [
        f"gateway '{plan.name}' ({plan.platform}): no allow reaches the box itself, so it "
        "drops all traffic to its own addresses entering on the interfaces it serves"
        f"{vty.get(plan.platform, '')}; manage it through another interface, or allow it, "
        f"e.g. `allow <class> -> gateway:{plan.name} : ssh`"
        for plan in policy.gateways
        if plan.name not in reached and Feature.GATEWAY_PLANE in get_backend(plan.platform).supports
    ]


def build(
    path: str,
    outdir: str,
    warnings_as_errors: bool = False,
    include_path: Sequence[str] = (),
    read: Callable[[str], bytes] | None = None,
    progress: Progress | None = None,
) -> BuildReport:
    """Check and build; writes into `outdir` only when everything is clean.  `read` reads
    the policy from elsewhere than the file system (see `run_check`); `progress` is told each
    gateway as it is proven."""
    report = run_check(path, read, include_path=include_path)
    result = BuildReport(report)
    if not report.ok(warnings_as_errors):
        return result
    outputs, diags = render_outputs(report, progress)
    report.diagnostics = sort_diagnostics(report.diagnostics + diags)
    if not report.ok(warnings_as_errors):
        return result
    assert report.compiled is not None  # report.ok() holds
    result.outputs = outputs
    result.notes = interface_notes(report.compiled) + closed_box_notes(report.compiled)
    try:
        _write(Path(outdir), outputs, manifest(report, outputs))
    except OSError as exc:
        report.diagnostics.append(
            Diagnostic(Severity.ERROR, "E403", describe(exc, outdir), Span(path, 1, 1, 1, 2))
        )
        return result
    result.written = True
    return result


def _write(outdir: Path, outputs: list[Output], manifest_text: str) -> None:
    write_outputs(
        str(outdir), [(str(o.path), o.text.encode("utf-8")) for o in outputs], manifest_text
    )
