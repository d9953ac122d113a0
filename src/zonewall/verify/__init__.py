"""Independent evaluators: does a gateway's config enforce exactly the compiled policy?

This package is translation validation for zonewall's outputs, and the engine behind auditing
configs read back from devices.  It shares no code with `zonewall.backends`: it reads only the
IR (`CompiledPolicy`) and the *text* of a config, and parses that text fail-closed (a line or
construct it does not model exactly raises `ConfigParseError`, never gets skipped).

API::

    from zonewall.verify import validate, Difference, ConfigParseError

    diffs: list[Difference] = validate(compiled, "core_fw", text, "iptables",
                                       filename="core_fw.rules")
    for d in diffs:
        print(d.describe())

* `validate(compiled, gateway_name, config_text, platform, *, filename=None)
  -> list[Difference]`: platform is "iptables" (iptables-restore or iptables-save text),
  "nftables" (`nft -f` input or `nft list ruleset` output), "cisco-ios" (zonewall's ACL
  file, its switch file, both concatenated, or the same commands from `show running-config`)
  or "ip6tables" (an iptables gateway's IPv6 companion, `ipv6` module: it must forward no
  IPv6 on zonewall's interfaces).  iptables text is either a full ruleset (iptables-save,
  FORWARD as written) or zonewall's --noflush file (FORWARD modelled as zonewall's jump
  first, then the box's rules assumed to accept anything; see `iptables`).
  Empty list: the config permits exactly what the policy's enforcement model (docs/language.md,
  section 8.1) says this gateway must permit (DHCP relayed by another gateway to a class
  served here included: udp/67 from the relay's declared source, `model`); for cisco-ios
  also that every interface drops IPv6 but neighbour discovery (`ios6`; such differences
  have the condition "IPv6..."); for iptables and nftables also that traffic to the box
  itself (INPUT, nft input hooks) is exactly the policy's `gateway:` flows (`selfplane`;
  `dst_owner` "gateway:NAME"); for cisco-ios that the ACLs take exactly those flows toward
  each SVI address (carved out of the forwarding comparison) and that the vty lines take
  exactly the ssh/telnet sources (`ios_vty`; ingress "line vty").
  Raises `ConfigParseError` (attributes `file`, `line`, `text`, `message`) on unmodelled
  input and `ValueError` on an unknown gateway or platform.
* `Difference`: `gateway`, `platform`, `kind` ("permits-too-much" | "blocks-needed" |
  "reply-blocked"), `ingress` (interface), `src`/`src_owner` (representative address and the
  class or external it belongs to), `dst`/`dst_owner` (`dst` None: every destination),
  `packets` (a `PacketSet`; for reply-blocked, the keys of the flows whose replies are
  blocked), `condition` (source ports, TCP flags or conntrack state it is limited to, or ""),
  `flows` (reply-blocked: which flows), `rules` (`RuleRef`s: file, line, text of the deciding
  config lines or implicit policy), `path` (the jump/goto lines that led there), `example`
  (one concrete packet, re-checked by a plain per-packet interpreter), and `describe()`
  (one line of text).  Differences are sorted and deterministic.
* `summarize(diffs, owners=4) -> list[str]`: one line per kind, ingress, packets, condition
  and deciding rules (a widened rule can differ on many address pairs; this folds them).
* Per-address questions on a parsed config: `ev = Evaluator(parse_config(platform, text,
  name))`, then `ev.new_permitted(ingress, egress, src, dst) -> PacketSet` (keys whose NEW
  packets pass, from every source port) and `ev.reply_permitted(ingress, egress, src, dst,
  flows) -> PacketSet` (which of the flows `dst -> src` get all their replies back in:
  conntrack on Linux, the language's stateless reply definition on IOS).  Addresses are strings
  or integers; `egress` matters only to iptables/nftables (`-o`, `oifname`).
* Lower levels, for tools and tests: `GatewayModel` (the expectation), `parse_config` /
  `parse_iptables` / `parse_nftables` / `parse_ios` (text to `Ruleset`), `Evaluator`
  (`accepted(cell, ctx)` = service keys accepted, `explain`, `trace`), `address_groups`.

Modules: `model` (expected behaviour from the IR), `replies` (the language's reply definitions),
`rules` (the shared rule model), `names` (the protocol and ICMP-type names configs use, the
verifier's own tables), `engine` (first-match evaluation over packet sets),
`addresses` (address equivalence classes), `iptables` + `iptables_words`, `nftables` +
`nft_rule`, `ios` +
`ios_ace` + `ios6` + `ios_vty` (parsers), `ipv6` (the iptables IPv6 companion's closure),
`selfplane` (traffic to the gateway itself), `compare` (`validate`, `summarize`).

Device output (`zonewall audit`): `audit` (`audit_config` -> `AuditResult`: the differences
and what was skipped) reads a device's whole output through `ios_running` (a full `show
running-config`), `iptables_tables` (every table of `iptables-save`) and `nft_device` (`nft
list ruleset` with other tables, families and hooks): what cannot change forwarding on the
gateway's audited interfaces is skipped and counted, what can is modelled or refused with
the line, the construct and what to do.
"""

from __future__ import annotations

from .addresses import Group, address_groups
from .audit import AuditResult, audit_config
from .compare import KINDS, Difference, parse_config, summarize, validate
from .engine import Cell, Evaluator
from .ios import parse_ios
from .iptables import parse_iptables
from .model import GatewayModel
from .nftables import parse_nftables
from .rules import ConfigParseError, RuleRef, Ruleset

__all__ = [
    "KINDS",
    "AuditResult",
    "Cell",
    "ConfigParseError",
    "Difference",
    "Evaluator",
    "GatewayModel",
    "Group",
    "RuleRef",
    "Ruleset",
    "address_groups",
    "audit_config",
    "parse_config",
    "parse_ios",
    "parse_iptables",
    "parse_nftables",
    "summarize",
    "validate",
]
