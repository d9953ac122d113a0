"""`zonewall diff`: the semantic change between two versions of a policy.

Both versions are compiled; the comparison is on what they *do*, never on how they are written:

* **Flows** are the effective flows, gained and lost per endpoint pair (`flow_changes`), so
  reordering statements, renaming a service or splitting an allow in two shows nothing.
* **Assertions** are matched by their text (duplicates in order), then by their text with
  service names replaced by packets (a renamed service), and compared by status.
* **Classes** (added, removed, VLAN, subnets, gateway) and **externals** (added, removed,
  written addresses).
* **Gateways**: rules per gateway, counted by lowering each gateway through its backend, the
  same count `build` writes into manifest.json (lowering only: rendering does not change it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from zonewall.backends import get_backend
from zonewall.backends.base import gateway_view, lower_gateway
from zonewall.diagnostics import Span
from zonewall.ir import AssertionResult, CompiledPolicy, ExternalDef, Hop
from zonewall.report import CheckReport, run_check
from zonewall.review.flow_changes import FlowChange, flow_changes
from zonewall.review.sources import git_reader
from zonewall.text import file_name

__all__ = [
    "AssertionChange",
    "ClassChange",
    "ExternalChange",
    "FlowChange",
    "GatewayChange",
    "PolicyDiff",
    "Side",
    "compare",
    "load_side",
]


@dataclass(frozen=True, slots=True)
class Side:
    """One version of the policy: where it came from and its check report."""

    label: str  # "old" or "new"
    path: str
    revision: str | None
    report: CheckReport

    @property
    def title(self) -> str:
        return f"{self.path} at {self.revision}" if self.revision else self.path


def load_side(
    label: str, path: str, revision: str | None = None, include_path: Sequence[str] = ()
) -> Side:
    """Read and check one version (from the file system, or from git `revision`).

    Raises:
        GitError: `revision` cannot be read at all (no git, no repository, bad revision).
    """
    read = git_reader(revision, path) if revision is not None else None
    return Side(label, file_name(path), revision, run_check(path, read, include_path))


@dataclass(frozen=True, slots=True)
class AssertionChange:
    text: str
    old: str | None  # pass | fail | accepted, None when absent
    new: str | None
    span: Span | None  # where it is written in the new version (else the old one)
    counterexample: tuple[Hop, ...] | None = None  # the new version's, when it fails

    @property
    def newly_fails(self) -> bool:
        return self.new == "fail" and self.old != "fail"


@dataclass(frozen=True, slots=True)
class ClassChange:
    name: str
    old_vlan: int | None
    new_vlan: int | None
    old_subnets: tuple[str, ...]
    new_subnets: tuple[str, ...]
    old_gateway: str | None
    new_gateway: str | None

    @property
    def kind(self) -> str:
        if self.old_gateway is None:
            return "added"
        return "removed" if self.new_gateway is None else "changed"


@dataclass(frozen=True, slots=True)
class ExternalChange:
    name: str
    old: str | None  # the addresses as written, None when absent
    new: str | None


@dataclass(frozen=True, slots=True)
class GatewayChange:
    name: str
    old_platform: str | None
    new_platform: str | None
    old_rules: int | None  # None: absent, or the backend cannot lower the policy
    new_rules: int | None
    old_object_groups: bool = False  # `object-groups` (IOS OGACL) set on the gateway
    new_object_groups: bool = False
    old_stateless_accepted: str | None = None  # `stateless-replies accepted "reason"` (W113)
    new_stateless_accepted: str | None = None
    old_relay: str | None = None  # `dhcp-relay`, resolved: "to HELPERS from SOURCE"
    new_relay: str | None = None

    @property
    def delta(self) -> int | None:
        if self.old_rules is None or self.new_rules is None:
            return None
        return self.new_rules - self.old_rules

    @property
    def changed(self) -> bool:
        return (
            self.old_platform,
            self.old_rules,
            self.old_object_groups,
            self.old_stateless_accepted,
            self.old_relay,
        ) != (
            self.new_platform,
            self.new_rules,
            self.new_object_groups,
            self.new_stateless_accepted,
            self.new_relay,
        )


@dataclass(frozen=True, slots=True)
class PolicyDiff:
    gained: tuple[FlowChange, ...]
    lost: tuple[FlowChange, ...]
    assertions: tuple[AssertionChange, ...]
    classes: tuple[ClassChange, ...]
    externals: tuple[ExternalChange, ...]
    gateways: tuple[GatewayChange, ...]  # every gateway of either version

    @property
    def newly_failing(self) -> tuple[AssertionChange, ...]:
        return tuple(a for a in self.assertions if a.newly_fails)

    @property
    def semantic_change(self) -> bool:
        """Anything besides rule counts: flows, assertions, classes, externals, gateways."""
        return bool(
            self.gained
            or self.lost
            or self.assertions
            or self.classes
            or self.externals
            or any(g.old_platform != g.new_platform for g in self.gateways)
        )


def compare(old: CompiledPolicy, new: CompiledPolicy, count_rules: bool = True) -> PolicyDiff:
    """The semantic difference from `old` to `new` (both compiled)."""
    gained, lost = flow_changes(old, new)
    return PolicyDiff(
        gained=tuple(gained),
        lost=tuple(lost),
        assertions=_assertion_changes(old, new),
        classes=_class_changes(old, new),
        externals=_external_changes(old.policy.externals, new.policy.externals),
        gateways=_gateway_changes(old, new, count_rules),
    )


# ---------------------------------------------------------------------------------------------
# assertions, classes, externals, gateways
# ---------------------------------------------------------------------------------------------


def _assertion_changes(old: CompiledPolicy, new: CompiledPolicy) -> tuple[AssertionChange, ...]:
    """Assertions matched by text (duplicates in order); the ones left over are then matched
    by their text with every service name replaced by its packets, so renaming a service
    changes no assertion."""
    olds, news = list(old.assertions), list(new.assertions)
    pairs: list[tuple[AssertionResult | None, AssertionResult | None]] = []
    for key_old, key_new in ((_exact, _exact), (_canonical(old), _canonical(new))):
        waiting: dict[str, list[AssertionResult]] = {}
        for a in olds:
            waiting.setdefault(key_old(a), []).append(a)
        unmatched: list[AssertionResult] = []
        for b in news:
            queue = waiting.get(key_new(b))
            if queue:
                pairs.append((queue.pop(0), b))
            else:
                unmatched.append(b)
        olds = [a for queue in waiting.values() for a in queue]
        news = unmatched
    pairs += [(a, None) for a in olds] + [(None, b) for b in news]
    out: list[AssertionChange] = []
    for o, n in pairs:
        old_status = o.status if o is not None else None
        new_status = n.status if n is not None else None
        if old_status != new_status:
            shown = n if n is not None else o
            assert shown is not None
            out.append(
                AssertionChange(
                    shown.text,
                    old_status,
                    new_status,
                    shown.span,
                    n.counterexample if n is not None else None,
                )
            )
    return tuple(sorted(out, key=lambda a: (a.span.sort_key() if a.span else ("", 0, 0), a.text)))


def _exact(a: AssertionResult) -> str:
    return a.text


_WORD = re.compile(r"(?<![:\w-])[a-z][a-z0-9_]*(?:-[a-z0-9_]+)*")


def _canonical(c: CompiledPolicy) -> Callable[[AssertionResult], str]:
    packets = {s.name: f"<{s.packets.describe()}>" for s in c.services}

    def key(a: AssertionResult) -> str:
        return _WORD.sub(lambda m: packets.get(m.group(0), m.group(0)), a.text)

    return key


def _class_changes(old: CompiledPolicy, new: CompiledPolicy) -> tuple[ClassChange, ...]:
    o = {c.name: c for c in old.classes}
    n = {c.name: c for c in new.classes}
    out: list[ClassChange] = []
    for name in sorted(o.keys() | n.keys()):
        a, b = o.get(name), n.get(name)
        change = ClassChange(
            name,
            a.vlan if a else None,
            b.vlan if b else None,
            tuple(str(p) for p in a.prefixes) if a else (),
            tuple(str(p) for p in b.prefixes) if b else (),
            a.gateway if a else None,
            b.gateway if b else None,
        )
        if (change.old_vlan, change.old_subnets, change.old_gateway) != (
            change.new_vlan,
            change.new_subnets,
            change.new_gateway,
        ):
            out.append(change)
    return tuple(out)


def _external_text(e: ExternalDef) -> str:
    text = ", ".join(str(p) for p in e.addresses)
    if e.excepts:
        text += " except " + ", ".join(str(p) for p in e.excepts)
    return text


def _external_changes(
    old: Sequence[ExternalDef], new: Sequence[ExternalDef]
) -> tuple[ExternalChange, ...]:
    o = {e.name: _external_text(e) for e in old}
    n = {e.name: _external_text(e) for e in new}
    return tuple(
        ExternalChange(name, o.get(name), n.get(name))
        for name in sorted(o.keys() | n.keys())
        if o.get(name) != n.get(name)
    )


def rule_counts(c: CompiledPolicy) -> dict[str, tuple[str, int | None]]:
    """Per gateway: platform and rule count as manifest.json gives it (None when the backend
    reports an error for the policy, so that `build` would fail)."""
    out: dict[str, tuple[str, int | None]] = {}
    for plan in c.gateways:
        backend = get_backend(plan.platform)
        model = lower_gateway(backend, c, gateway_view(c, plan.name)).model
        out[plan.name] = (plan.platform, None if model is None else backend.rule_count(model))
    return out


def _gateway_changes(
    old: CompiledPolicy, new: CompiledPolicy, count: bool
) -> tuple[GatewayChange, ...]:
    if count:
        o, n = rule_counts(old), rule_counts(new)
    else:
        o = {g.name: (g.platform, None) for g in old.gateways}
        n = {g.name: (g.platform, None) for g in new.gateways}
    og_old = {g.name for g in old.gateways if g.object_groups}
    og_new = {g.name for g in new.gateways if g.object_groups}
    ack_old = {g.name: g.stateless_accepted for g in old.gateways}
    ack_new = {g.name: g.stateless_accepted for g in new.gateways}
    relay_old, relay_new = _relays(old), _relays(new)
    return tuple(
        GatewayChange(
            name,
            o[name][0] if name in o else None,
            n[name][0] if name in n else None,
            o[name][1] if name in o else None,
            n[name][1] if name in n else None,
            name in og_old,
            name in og_new,
            ack_old.get(name),
            ack_new.get(name),
            relay_old.get(name),
            relay_new.get(name),
        )
        for name in sorted(o.keys() | n.keys())
    )


def _relays(c: CompiledPolicy) -> dict[str, str]:
    """Each declared DHCP relay as "to HELPERS from SOURCE" (helpers resolved to addresses)."""
    return {
        g.name: f"to {', '.join(a for a, _ in g.relay.helpers)} from {g.relay.source.ip}"
        for g in c.gateways
        if g.relay is not None
    }
