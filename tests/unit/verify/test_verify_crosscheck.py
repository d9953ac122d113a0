"""Random concrete packets: the plain per-packet interpreter (`Evaluator.trace`) on every
generated config against the enforcement model evaluated packet by packet.

This check shares nothing with the set-based walk or the address groups that `validate`
uses, so it guards the claim "zero differences" from both sides.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from verify_helpers import EXAMPLES, built, gateway_configs

from zonewall.packets import ICMP, PORT_SPAN, TCP, UDP, key
from zonewall.verify import Cell, Evaluator, GatewayModel, parse_config

CASES = [(p, o) for p in EXAMPLES for o in gateway_configs(p)]
SAMPLES = 1500


def _address(rng: random.Random, model: GatewayModel) -> int:
    if rng.random() < 0.15:
        return rng.randrange(0, 1 << 32)
    ep = rng.choice(model.endpoints)
    net = rng.choice(ep.prefixes)
    return int(net.first) + rng.randrange(net.size)


def _key(rng: random.Random, model: GatewayModel) -> int:
    roll = rng.random()
    if roll < 0.6 and model.compiled.flows:
        flow = rng.choice(model.compiled.flows)
        lo, hi = rng.choice(flow.packets.intervals)
        k = rng.choice((lo, hi, lo + rng.randrange(hi - lo + 1), lo - 1, hi + 1))
    elif roll < 0.8:
        k = key(rng.choice((TCP, UDP)), rng.randrange(PORT_SPAN))
    else:
        k = key(rng.randrange(256), 0)
    k = max(0, min(k, key(255, PORT_SPAN - 1)))
    proto, port = divmod(k, PORT_SPAN)
    return key(proto, port % 256) if proto == ICMP else k


def _pick(rng: random.Random, lo: int, hi: int) -> int:
    if lo <= key(ICMP, 255) < hi:
        hi = key(ICMP, 255)  # ICMP "types" above 255 are no packet
    return lo + rng.randrange(hi - lo + 1)


def _void(k: int) -> bool:
    return k // PORT_SPAN == ICMP and k % PORT_SPAN > 255


def _expected(
    model: GatewayModel,
    ingress: str,
    s: int,
    d: int,
    k: int,
    sport: int,
    ack: bool,
    stateless: bool,
) -> bool:
    src, dst = model.endpoint_at(s), model.endpoint_at(d)
    if k in model.permitted(ingress, src, dst):
        return True
    if not stateless:
        return False
    replies = model.reply_flows(ingress, src, dst)
    proto, port = divmod(k, PORT_SPAN)
    return (
        (proto == TCP and ack and key(TCP, sport) in replies)
        or (proto == UDP and key(UDP, sport) in replies)
        or (proto == ICMP and port == 0 and key(ICMP, 8) in replies)
    )


@pytest.mark.parametrize(("path", "out"), CASES, ids=[f"{p.stem}-{o.gateway}" for p, o in CASES])
def test_random_packets_agree_with_the_model(path: object, out: object) -> None:
    compiled, _ = built(str(path))
    gateway, platform = out.gateway, str(out.platform)  # type: ignore[attr-defined]
    model = GatewayModel(compiled, gateway)
    ev = Evaluator(parse_config(platform, out.text, gateway))  # type: ignore[attr-defined]
    stateless = platform == "cisco-ios"
    seed = os.environ.get("ZONEWALL_CROSSCHECK_SEED", "")
    # seeded by the example's name, not its path: the same samples in every checkout
    rng = random.Random(f"{Path(str(path)).name}-{gateway}{seed}")
    flows_from_here = [f for f in compiled.flows if model.is_served(model.endpoints[f.src])]
    # a switch's own SVI addresses are its gateway plane (test_verify_selfplane), not forwarding
    own = set(model.svi_addresses()) if stateless else set()
    checked = accepted = 0
    while checked < SAMPLES:
        ingress = rng.choice(model.interfaces)
        s, d = _address(rng, model), _address(rng, model)
        k = _key(rng, model)
        if flows_from_here and rng.random() < 0.4:  # bias toward permitted flows
            flow = rng.choice(flows_from_here)
            src_ep, dst_ep = model.endpoints[flow.src], model.endpoints[flow.dst]
            s = int(rng.choice(src_ep.prefixes).first)
            d = int(rng.choice(dst_ep.prefixes).last)
            ingress = model.route(src_ep) or ingress
            k = _pick(rng, *rng.choice(flow.packets.intervals))
        egress = model.route(model.endpoint_at(d))
        if egress is None or d == (1 << 32) - 1 or _void(k) or d in own:
            continue
        sport = rng.choice((rng.randrange(PORT_SPAN), k % PORT_SPAN, 68, 443))
        ack = stateless and rng.random() < 0.5
        cell = Cell(ingress, egress, s, s, d, d)
        got, ref = ev.trace(cell, (None if stateless else "NEW", sport, ack), k)
        want = _expected(model, ingress, s, d, k, sport, ack, stateless)
        assert got == want, (ingress, s, d, divmod(k, PORT_SPAN), sport, ack, ref)
        checked += 1
        accepted += got
    assert accepted > SAMPLES // 20  # the sample reaches permitted flows, not only drops
