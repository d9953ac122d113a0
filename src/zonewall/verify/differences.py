"""What translation validation reports: one `Difference` per way a config departs from the
model, and `summarize`, a readable digest of a long list of them."""

from __future__ import annotations

from dataclasses import dataclass

from zonewall.packets import PacketSet

from .rules import RuleRef

__all__ = ["KINDS", "Difference", "summarize"]

KINDS = ("permits-too-much", "blocks-needed", "reply-blocked")


@dataclass(frozen=True, slots=True)
class Difference:
    """One way a config departs from the model, for one ingress, source and destination.

    `packets` are destination-side service keys (for `reply-blocked`: the keys of the flows
    whose replies are blocked); `condition` narrows them ("" = for every source port, flag and
    state checked).  `dst` is None when the difference holds for every destination.
    """

    gateway: str
    platform: str
    kind: str
    ingress: str
    src: str
    src_owner: str
    dst: str | None
    dst_owner: str
    packets: PacketSet
    condition: str
    rules: tuple[RuleRef, ...]
    example: str
    flows: str = ""
    path: tuple[RuleRef, ...] = ()

    def describe(self) -> str:
        what = {
            "permits-too-much": "permits too much",
            "blocks-needed": "blocks needed",
            "reply-blocked": "blocks replies",
        }[self.kind]
        dst = "any destination" if self.dst is None else f"{self.dst} ({self.dst_owner})"
        cond = f" [{self.condition}]" if self.condition else ""
        flows = f" ({self.flows})" if self.flows else ""
        rules = "; ".join(r.describe() for r in self.rules) or "no rule"
        via = (
            f" (reached through {'; '.join(r.describe() for r in self.path)})" if self.path else ""
        )
        return (
            f"{self.gateway}: {what}: entering {self.ingress} from {self.src} "
            f"({self.src_owner}) to {dst}: {self.packets.describe()}{cond}{flows}; "
            f"e.g. {self.example}; decided by {rules}{via}"
        )


def summarize(diffs: list[Difference], owners: int = 4) -> list[str]:
    """One line per (kind, ingress, packets, condition, deciding rules), naming up to `owners`
    source and destination owners: a readable digest of a long difference list."""
    groups: dict[tuple[object, ...], tuple[list[str], list[str], Difference]] = {}
    for d in diffs:
        gkey = (
            d.gateway,
            KINDS.index(d.kind),
            d.ingress,
            d.packets.intervals,
            d.condition,
            d.flows,
            d.rules,
        )
        srcs, dsts, _ = groups.setdefault(gkey, ([], [], d))
        for names, name in ((srcs, d.src_owner), (dsts, d.dst_owner)):
            if name not in names:
                names.append(name)
    lines = []
    for srcs, dsts, d in groups.values():
        cond = f" [{d.condition}]" if d.condition else ""
        flows = f" ({d.flows})" if d.flows else ""
        rules = "; ".join(r.describe() for r in d.rules) or "no rule"
        lines.append(
            f"{d.gateway}: {d.kind}: entering {d.ingress}: {d.packets.describe()}"
            f"{cond}{flows} from {_some(srcs, owners)} to {_some(dsts, owners)}; "
            f"decided by {rules}"
        )
    return lines


def _some(names: list[str], limit: int) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more
