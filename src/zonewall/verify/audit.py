"""`zonewall audit`'s engine: a config as a device prints it, against the policy.

`validate` proves zonewall's own files and fails closed on anything else.  A device prints
more: a full `show running-config`, an `iptables-save` with nat, mangle and raw tables and
other programs' chains, an `nft list ruleset` with other tables.  `audit_config` reads that
whole output knowing the gateway's audited interfaces (the served classes' and the uplink):
what cannot change what those interfaces forward is skipped and counted, what can is
modelled or refused precisely (`ios_running`, `iptables_tables`, `nftables` in device mode),
and the result is compared exactly as `validate` compares (`compare`).

* `audit_config(compiled, gateway, text, platform, *, filename=None) -> AuditResult`:
  `differences` (as `validate` returns them) and `skipped` (construct -> lines left out).
  Raises `ConfigParseError` on a construct that matters and is not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass

from zonewall.intervals import complement, normalise, union_all
from zonewall.ir import CompiledPolicy

from .compare import validate
from .differences import Difference
from .ios_running import prepare_ios
from .iptables_tables import Device
from .model import GatewayModel
from .rules import ConfigParseError

__all__ = ["AuditResult", "audit_config"]

# what to do about a line the parsers refuse that the device-output readers kept (it matters)
TODO = (
    "; the audit keeps this line because it can change what the audited interfaces "
    "forward: write it in a form the audit models (docs/language.md, section 8) or audit "
    "this gateway by hand"
)


@dataclass(frozen=True, slots=True)
class AuditResult:
    """The differences from the policy, and what the audit skipped (construct -> lines)."""

    differences: tuple[Difference, ...]
    skipped: tuple[tuple[str, int], ...]


def audit_config(
    compiled: CompiledPolicy, gateway: str, text: str, platform: str, *, filename: str | None = None
) -> AuditResult:
    """Audit device output of `platform` ("iptables", "nftables", "cisco-ios", "ip6tables")
    for `gateway` (module docstring).

    Raises:
        ConfigParseError: a construct that can change forwarding on the audited interfaces
            and is not modelled, or text that does not parse.
        ValueError: unknown gateway or platform.
    """
    model = GatewayModel(compiled, gateway)
    audited = frozenset(model.interfaces)
    device = Device(
        audited, audited - {model.uplink} if model.uplink else audited, routes=_routes(model)
    )
    file = filename or f"<{gateway}>"
    try:
        if platform == "cisco-ios":
            prepared = prepare_ios(text, file, audited)
            device.skipped.update(prepared.skipped)
            diffs = validate(compiled, gateway, prepared.text, platform, filename=file)
        else:
            diffs = validate(compiled, gateway, text, platform, filename=file, device=device)
    except ConfigParseError as exc:
        if TODO in exc.message or "audit by hand" in exc.message:
            raise
        raise ConfigParseError(exc.file, exc.line, exc.text, f"{exc.message}{TODO}") from None
    return AuditResult(tuple(diffs), tuple(sorted(device.skipped.items())))


def _routes(model: GatewayModel) -> tuple[tuple[str, tuple[tuple[int, int], ...]], ...]:
    """The policy's routing (`model`): each served interface routes its classes' addresses;
    the uplink, when there is one, routes every other address (the default route)."""
    where = {c.name: c.interface for c in model.served}
    routes: dict[str, list[tuple[int, int]]] = {}
    for e in model.endpoints:
        if e.kind == "class" and e.name in where:
            routes.setdefault(where[e.name], []).extend(
                (int(p.first), int(p.last)) for p in e.prefixes
            )
    if model.uplink is not None:
        served = union_all(normalise(ivs) for ivs in routes.values())
        routes[model.uplink] = list(complement(served, 0, (1 << 32) - 1))
    return tuple(sorted((i, normalise(ivs)) for i, ivs in routes.items()))
