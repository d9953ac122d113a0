"""`zonewall lab`: the built configs in a real kernel, probed with real sockets.

Builds a throw-away topology of network namespaces: one per gateway (its generated iptables
or nftables ruleset loaded), one per class (a host in the class subnet behind its gateway), and
one "core" namespace joining every gateway's uplink, which also holds one address of every
external atom and routes between gateways.  It then probes every permitted flow (source,
destination, each service's first and last port, ICMP echo) and negative cases (a port next to
each permitted range, and one probe per pair with no flow at all) with real TCP, UDP and ICMP
sockets, and compares what got through with the policy's effective flows.

iptables files are loaded by the exact command of their `load with:` header line (restore
with --noflush, then FORWARD's jump), the IPv6 companion (`.rules6`) included.  Every class
host also gets an IPv6 address (ULA `fd00:<vlan>::2/64`, the gateway `::1`), and IPv6 is
probed between every pair of classes (TCP): the policy is IPv4, so no IPv6 probe may pass.
Every class host and every external also probes each gateway's address (traffic to the
gateway itself): the policy's `gateway:` services must pass, ssh and https must not where it
does not permit them (so guest Wi-Fi reaches no gateway address on any probed port).  A
gateway that declares `dhcp-relay` probes from its relay source to each server class behind
another gateway: udp/67 must pass there and back (the relayed DHCP), udp/68 must not.

Gateways on platforms the lab cannot run (cisco-ios) are stood in for by the iptables
rendering of the same gateway, so the topology still behaves like the policy; their own output
is proven by `zonewall.verify` instead.  Everything is created inside namespaces this process
owns, named with a random tag, and deleted on exit, Ctrl-C included.  Needs root on Linux.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

from netaddr import IPAddress, IPNetwork

from zonewall.backends import get_backend
from zonewall.backends.base import gateway_view, lower_gateway
from zonewall.ir import CompiledPolicy, Endpoint
from zonewall.packets import ICMP, PORT_SPAN, TCP, UDP, PacketSet

__all__ = ["LabError", "LabReport", "Probe", "run_lab"]

LINUX = {"iptables", "nftables"}
TIMEOUT = 0.8  # seconds a blocked probe waits


class LabError(Exception):
    """The lab cannot run here (not root, tools missing, a command failed)."""


@dataclass(frozen=True, slots=True)
class Probe:
    src: str  # class or external name
    dst: str
    proto: str  # tcp | udp | icmp
    port: int  # 8 (echo-request) for icmp
    src_addr: str
    dst_addr: str
    expected: bool
    observed: bool | None = None

    @property
    def ok(self) -> bool:
        return self.observed == self.expected

    @property
    def ipv6(self) -> bool:
        return ":" in self.dst_addr

    def service(self) -> str:
        name = "icmp/echo-request" if self.proto == "icmp" else f"{self.proto}/{self.port}"
        return f"IPv6 {name}" if self.ipv6 else name


@dataclass
class LabReport:
    probes: list[Probe] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[Probe]:
        return [p for p in self.probes if not p.ok]


def _run(*args: str, input: str | None = None) -> str:
    proc = subprocess.run(list(args), capture_output=True, text=True, input=input, timeout=120)
    if proc.returncode != 0:
        raise LabError(f"'{' '.join(args)}' failed: {proc.stderr.strip()}")
    return proc.stdout


@dataclass
class _Topology:
    tag: str
    namespaces: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen[str]] = field(default_factory=list)
    count: int = 0

    def ns(self, role: str) -> str:
        name = f"zwl{self.tag}-{role}"
        _run("ip", "netns", "add", name)
        self.namespaces.append(name)
        _run("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def link(
        self, a: str, if_a: str, addr_a: str | None, b: str, if_b: str, addr_b: str | None
    ) -> None:
        self.count += 1
        tmp_a, tmp_b = f"zwa{self.tag}{self.count}", f"zwb{self.tag}{self.count}"
        _run("ip", "link", "add", tmp_a[:15], "type", "veth", "peer", "name", tmp_b[:15])
        for ns, tmp, name, addr in ((a, tmp_a[:15], if_a, addr_a), (b, tmp_b[:15], if_b, addr_b)):
            _run("ip", "link", "set", tmp, "netns", ns)
            _run("ip", "-n", ns, "link", "set", tmp, "name", name)
            if addr:
                _run("ip", "-n", ns, "addr", "add", addr, "dev", name)
            _run("ip", "-n", ns, "link", "set", name, "up")

    def exec(self, ns: str, *args: str, input: str | None = None) -> str:
        return _run("ip", "netns", "exec", ns, *args, input=input)

    def close(self) -> None:
        for proc in self.processes:
            proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        for ns in self.namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=60)


@contextmanager
def _topology() -> Iterator[_Topology]:
    topo = _Topology(uuid.uuid4().hex[:5])
    try:
        yield topo
    finally:
        topo.close()


def _check_environment() -> None:
    if sys.platform != "linux":
        raise LabError("the lab needs Linux network namespaces")
    if os.geteuid() != 0:
        raise LabError("the lab needs root (it creates network namespaces)")
    for tool in (
        "ip",
        "iptables-restore",
        "ip6tables-restore",
        "iptables",
        "ip6tables",
        "nft",
        "sh",
    ):
        if shutil.which(tool) is None:
            raise LabError(
                f"'{tool}' is not installed (apt-get install iproute2 iptables nftables)"
            )


def _host_net(prefixes: tuple[IPNetwork, ...]) -> IPNetwork | None:
    """The class subnet a lab host sits in: the first with room for gateway and host."""
    return next((net for net in prefixes if net.size >= 4), None)


def _host_address(prefixes: tuple[IPNetwork, ...]) -> str | None:
    """A host in the class subnet (the first usable address is the gateway's)."""
    net = _host_net(prefixes)
    return str(IPAddress(net.first + 2)) if net is not None else None


def _external_address(ep: Endpoint) -> str | None:
    """A usable unicast address of an external atom."""
    for net in ep.prefixes:
        for offset in (1, 0):
            if net.size > offset:
                addr = IPAddress(net.first + offset)
                first_octet = int(addr) >> 24
                if first_octet not in (0, 127) and first_octet < 224:
                    return str(addr)
    return None


def _representatives(packets: PacketSet) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for lo, hi in packets.split_by_protocol():
        proto, plo, phi = lo // PORT_SPAN, lo % PORT_SPAN, hi % PORT_SPAN
        if proto in (TCP, UDP):
            name = "tcp" if proto == TCP else "udp"
            for port in sorted({max(plo, 1), phi}):
                out.append((name, port))
        elif proto == ICMP and plo <= 8 <= phi:
            out.append(("icmp", 8))
    return out


def _negative(packets: PacketSet, proto: str, port: int) -> int | None:
    number = TCP if proto == "tcp" else UDP
    for candidate in (port + 1, port - 1, port + 1000, 40000, 4321):
        if 1 <= candidate < PORT_SPAN and number * PORT_SPAN + candidate not in packets:
            return candidate
    return None


def plan_probes(compiled: CompiledPolicy) -> tuple[list[Probe], dict[int, str], list[str]]:
    """Probes with their expected outcome, each endpoint's probe address, and notes."""
    notes: list[str] = []
    address: dict[int, str] = {}
    for ep in compiled.endpoints:
        addr = _host_address(ep.prefixes) if ep.kind == "class" else _external_address(ep)
        if addr is None:
            notes.append(f"'{ep.name}' has no address a lab host can use; not probed")
        else:
            address[ep.id] = addr
    flows = {(f.src, f.dst): f for f in compiled.flows}
    probes: list[Probe] = []
    eps = [e for e in compiled.endpoints if e.id in address]
    for s in eps:
        for d in eps:
            if s.id == d.id or (s.kind == "external" and d.kind == "external"):
                continue
            flow = flows.get((s.id, d.id))
            allowed = flow.packets if flow else PacketSet()
            ends = (s.name, d.name)
            addrs = (address[s.id], address[d.id])
            reps = _representatives(allowed)
            for proto, port in reps:
                probes.append(Probe(*ends, proto, port, *addrs, expected=True))
                neg = _negative(allowed, proto, port) if proto != "icmp" else None
                if neg is not None:
                    probes.append(Probe(*ends, proto, neg, *addrs, expected=False))
            if not reps:
                probes.append(
                    Probe(*ends, "tcp", 443, *addrs, expected=TCP * PORT_SPAN + 443 in allowed)
                )
    return list(dict.fromkeys(probes)), address, notes


MANAGEMENT = (("tcp", 22), ("tcp", 443))  # probed toward every Linux gateway when not permitted


def plan_gateway_probes(
    compiled: CompiledPolicy, address: dict[int, str] | None = None
) -> list[Probe]:
    """Traffic to the gateways themselves.  From every class host to its own gateway's address
    on the class's interface (the subnet's first address): each permitted gateway service
    (first and last port, ICMP echo) must pass, and ssh and https must fail where the policy
    does not permit them.  From every class host to every *other* gateway's address, and from
    every external's lab address (`address`, as `plan_probes` gives it) to every gateway: the
    same, so guest Wi-Fi is shown to reach no gateway address on any probed port, and an
    out-of-band network its management service.  A cisco-ios gateway is stood in for by its
    iptables rendering, whose input plane takes exactly the same gateway flows as the
    switch's ACLs and vty lines (both proven by `zonewall.verify`), so it is probed too."""
    by_src = {(f.src, f.gateway): f.packets for f in compiled.gateway_flows}
    ids = {e.name: e.id for e in compiled.endpoints if e.kind == "class"}
    target = _gateway_addresses(compiled)
    probes: list[Probe] = []

    def probe(src: str, src_id: int, src_addr: str, gateway: str, dst_addr: str) -> None:
        allowed = by_src.get((src_id, gateway), PacketSet())
        ends, addrs = (src, f"gateway:{gateway}"), (src_addr, dst_addr)
        for proto, port in _representatives(allowed):
            probes.append(Probe(*ends, proto, port, *addrs, expected=True))
        for proto, port in MANAGEMENT:
            number = TCP if proto == "tcp" else UDP
            if number * PORT_SPAN + port not in allowed:
                probes.append(Probe(*ends, proto, port, *addrs, expected=False))

    for cls in sorted(compiled.classes, key=lambda c: c.name):
        home = _host_net(cls.prefixes)
        if home is None:
            continue
        host = str(IPAddress(home.first + 2))
        probe(cls.name, ids[cls.name], host, cls.gateway, str(IPAddress(home.first + 1)))
        for gateway, addr in sorted(target.items()):
            if gateway != cls.gateway:
                probe(cls.name, ids[cls.name], host, gateway, addr)
    for ep in compiled.endpoints:
        if ep.kind == "external" and address is not None and ep.id in address:
            for gateway, addr in sorted(target.items()):
                probe(ep.name, ep.id, address[ep.id], gateway, addr)
    return list(dict.fromkeys(probes))


def _gateway_addresses(compiled: CompiledPolicy) -> dict[str, str]:
    """One address of each gateway that a lab host can aim at: its address on the first of
    its classes (by name) that has a lab host."""
    out: dict[str, str] = {}
    for cls in sorted(compiled.classes, key=lambda c: c.name):
        home = _host_net(cls.prefixes)
        if home is not None and cls.gateway not in out:
            out[cls.gateway] = str(IPAddress(home.first + 1))
    return out


def plan_relay_probes(compiled: CompiledPolicy, address: dict[int, str]) -> list[Probe]:
    """DHCP relayed across another gateway (`dhcp-relay`): from the relaying gateway's
    declared source address to the server class's host, udp/67 must pass (and its answer come
    back), a port next to it must not."""
    probes: list[Probe] = []
    for f in compiled.relay_flows:
        if f.dst not in address:
            continue
        ends = (f"gateway:{f.gateway}", compiled.endpoints[f.dst].name)
        addrs = (str(f.source.ip), address[f.dst])
        probes.append(Probe(*ends, "udp", 67, *addrs, expected=True))
        probes.append(Probe(*ends, "udp", 68, *addrs, expected=False))
    return probes


def ipv6_address(vlan: int, host: int) -> str:
    """A lab address in the class's ULA /64: `fd00:<vlan>::<host>` (vlan digits as hex)."""
    return f"fd00:{vlan}::{host}"


def plan_ipv6_probes(compiled: CompiledPolicy, probes: list[Probe]) -> list[Probe]:
    """One TCP probe per ordered pair of classes with a lab host, over IPv6: none may pass.
    The port is the pair's first permitted IPv4 TCP port (443 when there is none), so the
    probe tries exactly what the IPv4 rules would let through."""
    port: dict[tuple[str, str], int] = {}
    for p in probes:
        if p.expected and p.proto == "tcp":
            port.setdefault((p.src, p.dst), p.port)
    classes = sorted(
        (c for c in compiled.classes if _host_net(c.prefixes) is not None), key=lambda c: c.name
    )
    return [
        Probe(
            s.name,
            d.name,
            "tcp",
            port.get((s.name, d.name), 443),
            ipv6_address(s.vlan, 2),
            ipv6_address(d.vlan, 2),
            expected=False,
        )
        for s in classes
        for d in classes
        if s.name != d.name
    ]


def load_command(text: str, path: str) -> str:
    """The `load with:` line of an iptables/ip6tables file's header, with its file name
    replaced by `path`: the lab loads exactly what the header tells an operator to run."""
    line = next(ln for ln in text.splitlines() if ln.startswith("# load with: "))
    command = line.removeprefix("# load with: ")
    name = command.split(" < ", 1)[1].split()[0]
    return command.replace(f" < {name} ", f" < {shlex.quote(path)} ", 1)


# The probe programs (`zonewall.lab_probe`), run inside a namespace by this interpreter.
PROBE = (sys.executable, "-m", "zonewall.lab_probe")


def _stand_in(compiled: CompiledPolicy, name: str) -> tuple[CompiledPolicy, str]:
    """The policy with gateway `name` rendered for iptables with Linux-valid interfaces."""
    plan = next(g for g in compiled.gateways if g.name == name)
    if plan.platform in LINUX:
        return compiled, plan.platform
    gateways = tuple(
        dataclasses.replace(g, platform="iptables", uplink="up0") if g.name == name else g
        for g in compiled.gateways
    )
    classes = tuple(
        dataclasses.replace(c, interface=f"c{c.vlan}") if c.gateway == name else c
        for c in compiled.classes
    )
    return dataclasses.replace(compiled, gateways=gateways, classes=classes), "iptables"


def run_lab(
    compiled: CompiledPolicy, progress: Callable[[int, int, str], None] | None = None
) -> LabReport:
    """Build the topology, probe, tear it down; raises LabError when it cannot run.
    `progress` is told (done, total, what) as gateways are set up and probe batches end."""
    _check_environment()
    probes, address, notes = plan_probes(compiled)
    probes += plan_ipv6_probes(compiled, probes)
    probes += plan_gateway_probes(compiled, address)
    probes += plan_relay_probes(compiled, address)
    report = LabReport(notes=notes)
    with _topology() as topo, tempfile.TemporaryDirectory(prefix="zwlab") as files:
        core = topo.ns("core")
        _forwarding(topo, core)
        host_ns: dict[str, str] = {}
        for i, plan in enumerate(compiled.gateways):
            if progress is not None:
                progress(i, len(compiled.gateways), f"setting up gateway {plan.name}")
            policy, platform = _stand_in(compiled, plan.name)
            if platform != plan.platform:
                report.notes.append(
                    f"gateway '{plan.name}' ({plan.platform}) is stood in for by "
                    "its iptables rendering"
                )
            host_ns[f"gateway:{plan.name}"] = _gateway(
                topo, core, i, policy, plan.name, platform, host_ns, files
            )
        for ep in compiled.endpoints:
            if ep.kind == "external" and ep.id in address:
                topo.exec(core, "ip", "addr", "add", f"{address[ep.id]}/32", "dev", "lo")
        _relay_sources(topo, core, compiled, host_ns)
        report.probes = _probe(topo, compiled, probes, host_ns, core, progress)
    return report


def _relay_sources(
    topo: _Topology, core: str, compiled: CompiledPolicy, host_ns: dict[str, str]
) -> None:
    """Each declared relay source on its gateway (as the switch's uplink address), routed
    from the core, so that relay probes leave the gateway from it."""
    index = {g.name: i for i, g in enumerate(compiled.gateways)}
    for plan in compiled.gateways:
        if plan.relay is None:
            continue
        source = f"{plan.relay.source.ip}/32"
        topo.exec(host_ns[f"gateway:{plan.name}"], "ip", "addr", "add", source, "dev", "lo")
        topo.exec(core, "ip", "route", "add", source, "via", f"169.254.{index[plan.name]}.2")


def _forwarding(topo: _Topology, ns: str) -> None:
    topo.exec(ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    topo.exec(ns, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")


def _gateway(
    topo: _Topology,
    core: str,
    i: int,
    policy: CompiledPolicy,
    name: str,
    platform: str,
    host_ns: dict[str, str],
    files: str,
) -> str:
    """One gateway namespace, linked to the core, with a host per class, its rules loaded;
    returns the namespace (probes to the gateway itself end there)."""
    plan = next(g for g in policy.gateways if g.name == name)
    gw = topo.ns(f"g{i}")
    _forwarding(topo, gw)
    uplink = plan.uplink or "up0"
    topo.link(gw, uplink, f"169.254.{i}.2/30", core, f"u{i}", f"169.254.{i}.1/30")
    topo.exec(gw, "ip", "route", "add", "default", "via", f"169.254.{i}.1")
    # IPv6 on the uplink too, so that IPv6 would reach other gateways if it were forwarded
    topo.exec(gw, "ip", "addr", "add", f"fd01:{i}::2/64", "dev", uplink, "nodad")
    topo.exec(core, "ip", "addr", "add", f"fd01:{i}::1/64", "dev", f"u{i}", "nodad")
    topo.exec(gw, "ip", "-6", "route", "add", "default", "via", f"fd01:{i}::1")
    for cls in (c for c in policy.classes if c.gateway == plan.name):
        host = topo.ns(f"c{cls.vlan}")
        host_ns[cls.name] = host
        topo.link(gw, cls.interface, None, host, "eth0", None)
        for net in cls.prefixes:
            gw_addr = f"{IPAddress(net.first + 1)}/{net.prefixlen}"
            if net.size >= 4:
                topo.exec(gw, "ip", "addr", "add", gw_addr, "dev", cls.interface)
            else:  # no room for a gateway address: route the subnet to the link
                topo.exec(gw, "ip", "route", "add", str(net), "dev", cls.interface)
            topo.exec(core, "ip", "route", "add", str(net), "via", f"169.254.{i}.2")
        home = _host_net(cls.prefixes)
        if home is not None:
            topo.exec(
                host,
                "ip",
                "addr",
                "add",
                f"{IPAddress(home.first + 2)}/{home.prefixlen}",
                "dev",
                "eth0",
            )
            topo.exec(host, "ip", "route", "add", "default", "via", str(IPAddress(home.first + 1)))
            topo.exec(
                gw,
                "ip",
                "addr",
                "add",
                f"{ipv6_address(cls.vlan, 1)}/64",
                "dev",
                cls.interface,
                "nodad",
            )
            topo.exec(
                host, "ip", "addr", "add", f"{ipv6_address(cls.vlan, 2)}/64", "dev", "eth0", "nodad"
            )
            topo.exec(host, "ip", "-6", "route", "add", "default", "via", ipv6_address(cls.vlan, 1))
            topo.exec(
                core,
                "ip",
                "-6",
                "route",
                "add",
                f"{ipv6_address(cls.vlan, 0)}/64",
                "via",
                f"fd01:{i}::2",
            )
    backend = get_backend(platform)
    model = lower_gateway(backend, policy, gateway_view(policy, plan.name)).unwrap()
    for path, text in sorted(backend.render(model).items()):
        if platform == "nftables":
            topo.exec(gw, "nft", "-f", "-", input=text)
            continue
        target = os.path.join(files, f"g{i}-{path}")
        with open(target, "w", encoding="utf-8") as fh:
            fh.write(text)
        topo.exec(gw, "sh", "-c", load_command(text, target))
    return gw


def _probe(
    topo: _Topology,
    compiled: CompiledPolicy,
    probes: list[Probe],
    host_ns: dict[str, str],
    core: str,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[Probe]:
    def ns_of(name: str) -> str:
        return host_ns.get(name, core)

    listeners: dict[str, set[tuple[str, str, int]]] = {}
    for p in probes:
        if p.proto != "icmp":
            listeners.setdefault(ns_of(p.dst), set()).add((p.proto, p.dst_addr, p.port))
    started = []
    for ns, specs in sorted(listeners.items()):  # all start at once, then each says ready
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, *PROBE, "server", json.dumps(sorted(specs))],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        topo.processes.append(proc)
        started.append((ns, proc))
    for ns, proc in started:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise LabError(f"probe servers did not start in {ns}")
    by_src: dict[str, list[int]] = {}
    for i, p in enumerate(probes):
        by_src.setdefault(ns_of(p.src), []).append(i)

    def run_agent(ns: str) -> tuple[str, list[bool]]:
        batch = [
            [probes[i].proto, probes[i].src_addr, probes[i].dst_addr, probes[i].port]
            for i in by_src[ns]
        ]
        out = topo.exec(ns, *PROBE, "agent", str(TIMEOUT), input=json.dumps(batch))
        return ns, json.loads(out)

    observed: dict[int, bool] = {}
    with ThreadPoolExecutor(8) as pool:
        for ns, results in pool.map(run_agent, sorted(by_src)):
            observed.update(zip(by_src[ns], results, strict=True))
            if progress is not None:
                progress(len(observed), len(probes), "probes sent")
    return [dataclasses.replace(p, observed=observed[i]) for i, p in enumerate(probes)]
