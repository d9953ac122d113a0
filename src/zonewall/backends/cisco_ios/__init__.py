"""Cisco IOS / IOS-XE backend: named extended IPv4 ACLs bound inbound, one file per gateway.

Target syntax: IOS 12.4+ / IOS-XE named extended ACLs (`ip access-list extended NAME`, explicit
sequence numbers 10, 20, ..., `remark` lines of at most 100 characters), numeric ports, one port
per `eq`, `range lo hi` for port ranges, wildcard (inverse) masks with `host A` for a /32 and
`any` for a /0.  Semantics: first match; an implicit `deny ip any any` ends every ACL, but an
applied ACL that is empty or undefined permits everything, so every ACL written here ends with
an explicit `deny ip any any log` and is defined in the same file before it is bound.  Names
match `^[A-Z][A-Z0-9_-]{0,63}$` and end in the first 8 hex digits of the gateway's content digest
(`names`: what the switch runs, comments and remarks left out), so a policy change that
changes this gateway's entries gives new names, built beside the applied ones and swapped
(make-before-break), and any other change keeps them.

IPv6: the policy language describes IPv4 only, so every interface an ACL is bound on also gets
`ipv6 traffic-filter ZW6-ND-ONLY-IN-<suffix> in`: an IPv6 ACL that permits neighbour discovery
(`nd-ns`, `nd-na`, `router-solicitation`, `router-advertisement`: an explicit final deny would
otherwise also drop the implicit ND permits, and the SVI's IPv6 neighbours with them) and ends in
`deny ipv6 any any log`.  No IPv6 is forwarded.

ACLs are stateless.  The enforcement model (docs/language.md, section 8.1) therefore needs explicit
reply entries, with "reply" defined exactly as the language does for stateless platforms: TCP
with ACK or RST (`established`) from the answerer's service port, UDP from the service port,
ICMP echo-reply for echo-request.  Flows whose replies have no such definition (other protocols,
ICMP timestamp/information/address-mask requests) are error E402 where this gateway must carry
their replies (ICMP types that have no reply at all, such as destination-unreachable, need
none); a protocol the ACE syntax cannot match alone (IP protocol 0) is E401, and so is an ACL
above the ACE budget.  The one entry not derived from a flow: a class that may reach a DHCP
server (udp/67) also gets its clients' broadcasts (`udp 0.0.0.0:68 -> 255.255.255.255:67`)
permitted, for the SVI's `ip helper-address` relay (IOS-08).

Layout: one ACL per served class, bound `in` on the class's interface (traffic whose source is
the class: flows it starts, replies to flows toward it), and one on the uplink (spoofed sources
of served classes denied, classes of other gateways passed, external sources only starting or
answering permitted flows).  Inside a class ACL, entries toward classes come first, then those
toward external atoms.  An external atom such as `0.0.0.0/0 minus every class` takes many CIDRs,
so external entries may be written wider (`any`) behind denies of the added space; this stays
exact because first match decides the added addresses before the wide entry (`lowering`),
and the tests prove it against the enforcement model packet by packet.

The package, one module per concern (no module imports another's private names):

* `backend`: `CiscoIosBackend` (registered as `cisco-ios`): the header, naming by content
  digest, rendering through `templates/cisco_ios/acl.ios.j2`;
* `lowering`: `Lowering`, every decision for one gateway, and its public hooks;
* `object_groups`: `OgLowering`, the `object-groups` variant, a subclass of `Lowering`;
* `selfplane`: traffic to the switch itself (its SVI addresses, the vty lines);
* `specs`: the protocol, port and option words of an entry; `model`: the frozen target
  model; `names`: object names and the content digest their suffix comes from.

This file imports none of them, so reading `names` (build, the VLAN plan) loads nothing else.
"""
