"""Device inventories: which device (address, MAC, name, type) belongs to which class.

Two inputs, recognised by their first character:

- **CSV** with a header line (comma, semicolon or tab separated, column names in any case):
  an address (`ip`, `ip_address`, `address`, `ipv4`, `primary_ip4`; a NetBox-style
  `10.40.16.21/22` is the address 10.40.16.21), optional `mac`, `name` (`hostname`,
  `device`), `type` (`device_type`, `model`, `role`), `class` (`zonewall_class`, `zone`,
  `segment`) and `criticality`.  For `learn --classes`, a row may give a `subnet` (`prefix`,
  `network`, `cidr`) instead of an address.
- **A NetBox device export**: the JSON of `GET /api/dcim/devices/?limit=0` (an object with
  `results`, or the list itself).  Per device: `name`, `primary_ip4.address`, the type from
  `device_type.model` (else `role.name` / `device_role.name`), the class from
  `custom_fields.zonewall_class`, and `custom_fields.mac` / `custom_fields.criticality` when
  set.  A device without `primary_ip4` is skipped (it has no IPv4 address to place).

IPv6 addresses are skipped (the policy is IPv4).  Anything else that cannot be read is
`InventoryError` with a diagnostic (E112) at `file:line:col` of the cell or JSON object.
`check_inventory` compares the devices with a compiled policy (W119-W123).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from netaddr import AddrFormatError, IPAddress, IPNetwork

from zonewall.compiler.resolve import suggest
from zonewall.diagnostics import Diagnostic, Severity, Span, sort_diagnostics
from zonewall.dsl.checks import RESERVED
from zonewall.ir import CompiledPolicy
from zonewall.report import CheckReport

__all__ = ["Device", "InventoryError", "check_inventory", "read_inventory", "with_inventory"]

MAX_BYTES = 64 * 1024 * 1024
NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
MAC = re.compile(r"([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}\Z|([0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}\Z")
CRITICALITIES = ("low", "medium", "high", "critical")

COLUMNS: dict[str, tuple[str, ...]] = {
    "ip": ("ip", "ip_address", "address", "ipv4", "ipv4_address", "primary_ip4", "addr"),
    "subnet": ("subnet", "prefix", "network", "cidr"),
    "mac": ("mac", "mac_address"),
    "name": ("name", "hostname", "device", "device_name"),
    "type": ("type", "device_type", "model", "role", "kind"),
    "class": ("class", "zonewall_class", "zone", "segment"),
    "criticality": ("criticality",),
}


@dataclass(frozen=True, slots=True)
class Device:
    span: Span  # the row, or the JSON object
    address: IPNetwork  # a /32 for a device; a subnet row of `learn --classes` keeps its length
    name: str = ""
    type: str = ""
    mac: str = ""
    cls: str = ""
    cls_span: Span | None = None  # the class cell
    criticality: str = ""

    @property
    def label(self) -> str:
        ip = str(self.address.ip) if self.address.prefixlen == 32 else str(self.address)
        return f"'{self.name}' ({ip})" if self.name else ip


class InventoryError(Exception):
    """An inventory that cannot be read; `diagnostic` (E112) points at the file, line and
    column, `source` is the file's text (for the caret), or '' when it could not be read."""

    def __init__(self, diagnostic: Diagnostic, source: str = "") -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic
        self.source = source


def _error(
    path: str, line: int, col: int, width: int, message: str, source: str = ""
) -> InventoryError:
    return InventoryError(
        Diagnostic(
            Severity.ERROR, "E112", message, Span(path, line, col, line, col + max(width, 1))
        ),
        source,
    )


def read_inventory(path: str, subnets: bool = False) -> tuple[tuple[Device, ...], str]:
    """The devices of an inventory file, and its text.  With `subnets` (`learn --classes`)
    rows may give subnets, and every row must name its class.

    Raises:
        InventoryError: the file cannot be read, or a row, cell or JSON object is wrong.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise _error(
            path, 1, 1, 1, f"cannot read inventory '{path}': {exc.strerror or exc}"
        ) from None
    if len(data) > MAX_BYTES:
        raise _error(path, 1, 1, 1, f"inventory '{path}' is larger than 64 MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _error(path, line, 1, 1, f"inventory '{path}' is not UTF-8 text") from None
    stripped = text.lstrip()
    if stripped[:1] in ("[", "{"):
        devices = tuple(_netbox(path, text))
    else:
        devices = tuple(_csv(path, text, subnets))
    if subnets:
        for d in devices:
            if not d.cls:
                raise _error(
                    path,
                    d.span.line,
                    1,
                    1,
                    f"{d.label} names no class: every row "
                    "of a --classes file needs one (column 'class')",
                    text,
                )
    return devices, text


# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------


def _cells(line: str, delimiter: str) -> list[tuple[int, str]]:
    """(1-based column, value) of each cell; double quotes as CSV writes them."""
    out: list[tuple[int, str]] = []
    i, n = 0, len(line)
    while True:
        start = i
        value: list[str] = []
        if i < n and line[i] == '"':
            i += 1
            while i < n:
                if line[i] == '"' and i + 1 < n and line[i + 1] == '"':
                    value.append('"')
                    i += 2
                elif line[i] == '"':
                    i += 1
                    break
                else:
                    value.append(line[i])
                    i += 1
            while i < n and line[i] != delimiter:
                value.append(line[i])
                i += 1
        else:
            while i < n and line[i] != delimiter:
                value.append(line[i])
                i += 1
        out.append((start + 1, "".join(value).strip()))
        if i >= n:
            return out
        i += 1


def _csv(path: str, text: str, subnets: bool) -> Iterator[Device]:
    lines = text.split("\n")
    head = next((i for i, line in enumerate(lines) if line.strip()), None)
    if head is None:
        raise _error(
            path,
            1,
            1,
            1,
            f"inventory '{path}' is empty: it needs a header line (ip, mac, name, type, class)",
            text,
        )
    header = lines[head].rstrip("\r")
    delimiter = max((",", ";", "\t"), key=header.count)
    names = [v.lower() for _, v in _cells(header, delimiter)]
    where: dict[str, int] = {}
    for field, aliases in COLUMNS.items():
        found = next((names.index(a) for a in aliases if a in names), None)
        if found is not None:
            where[field] = found
    if "ip" not in where and not (subnets and "subnet" in where):
        wanted = "'ip' (or 'subnet')" if subnets else "'ip'"
        raise _error(
            path,
            head + 1,
            1,
            len(header),
            f"inventory header has no address column "
            f"{wanted}; accepted names: {', '.join(COLUMNS['ip'])}",
            text,
        )
    if subnets and "class" not in where:
        raise _error(
            path,
            head + 1,
            1,
            len(header),
            "a --classes file needs a 'class' column "
            f"(accepted names: {', '.join(COLUMNS['class'])})",
            text,
        )
    for number, raw in enumerate(lines[head + 1 :], start=head + 2):
        line = raw.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = _cells(line, delimiter)

        def cell(
            field: str, cells: list[tuple[int, str]] = cells, end: int = len(line)
        ) -> tuple[int, str]:
            index = where.get(field)
            if index is None:
                return 0, ""
            return cells[index] if index < len(cells) else (end + 1, "")

        yield _device(path, text, number, cell, subnets, len(line))


def _device(path: str, text: str, line: int, cell: Any, subnets: bool, width: int) -> Device:
    col, ip = cell("ip")
    scol, subnet = cell("subnet")
    if not ip and not (subnets and subnet):
        what = "no address (column 'ip')" + (" or subnet" if subnets else "")
        raise _error(path, line, max(col, scol, 1), 1, f"row has {what}", text)
    if ip:
        address = _address(path, text, line, col, ip)
    else:
        address = _subnet(path, text, line, scol, subnet)
    ccol, cls = cell("class")
    if cls and (not NAME.match(cls) or cls in RESERVED):
        raise _error(
            path,
            line,
            ccol,
            len(cls),
            f"class '{cls}' is not a zonewall name "
            "(lower-case letters, digits and '_', starting with a letter; not a "
            "reserved word such as 'any')",
            text,
        )
    mcol, mac = cell("mac")
    if mac and not MAC.match(mac):
        raise _error(
            path, line, mcol, len(mac), f"'{mac}' is not a MAC address (aa:bb:cc:dd:ee:ff)", text
        )
    kcol, crit = cell("criticality")
    if crit and crit.lower() not in CRITICALITIES:
        raise _error(
            path,
            line,
            kcol,
            len(crit),
            f"criticality '{crit}' is not one of {', '.join(CRITICALITIES)}",
            text,
        )
    span = Span(path, line, 1, line, max(width, 1) + 1)
    return Device(
        span,
        address,
        cell("name")[1],
        cell("type")[1],
        mac.lower(),
        cls,
        Span(path, line, ccol, line, ccol + len(cls)) if cls else None,
        crit.lower(),
    )


def _address(path: str, text: str, line: int, col: int, value: str) -> IPNetwork:
    if ":" in value:
        raise _error(
            path,
            line,
            col,
            len(value),
            f"'{value}' is an IPv6 address; the policy "
            "is IPv4 (leave IPv6 addresses out of the inventory)",
            text,
        )
    try:
        return IPNetwork(f"{IPAddress(value.split('/')[0], 4)}/32")
    except (AddrFormatError, ValueError):
        raise _error(
            path,
            line,
            col,
            len(value),
            f"'{value}' is not an IPv4 address (four numbers 0-255: 10.40.16.21)",
            text,
        ) from None


def _subnet(path: str, text: str, line: int, col: int, value: str) -> IPNetwork:
    try:
        net = IPNetwork(value, version=4)
    except (AddrFormatError, ValueError):
        raise _error(
            path, line, col, len(value), f"'{value}' is not an IPv4 subnet", text
        ) from None
    if net.ip != net.network:
        raise _error(
            path,
            line,
            col,
            len(value),
            f"subnet '{value}' has host bits set; write {net.cidr}",
            text,
        )
    return net.cidr


# ---------------------------------------------------------------------------------------------
# NetBox JSON
# ---------------------------------------------------------------------------------------------


def _line_col(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def _netbox(path: str, text: str) -> Iterator[Device]:
    decoder = json.JSONDecoder()
    pos = len(text) - len(text.lstrip())
    try:
        doc, _ = decoder.raw_decode(text, pos)
    except json.JSONDecodeError as exc:
        raise _error(path, exc.lineno, exc.colno, 1, f"not valid JSON: {exc.msg}", text) from None
    if isinstance(doc, dict):
        if not isinstance(doc.get("results"), list):
            line, col = _line_col(text, pos)
            raise _error(
                path,
                line,
                col,
                1,
                "a NetBox export is the list of devices, or an "
                "object with 'results' (GET /api/dcim/devices/)",
                text,
            )
        start = text.index('"results"', pos)
        pos = text.index("[", start)
    elif not isinstance(doc, list):
        raise _error(path, 1, 1, 1, "a NetBox export is a JSON list of devices", text)
    # find where each device object starts, for its line and column
    pos = text.index("[", pos) + 1
    for _ in doc["results"] if isinstance(doc, dict) else doc:
        while text[pos] in " \t\r\n,":
            pos += 1
        obj, end = decoder.raw_decode(text, pos)
        line, col = _line_col(text, pos)
        device = _netbox_device(path, text, line, col, obj)
        if device is not None:
            yield device
        pos = end


def _get(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _netbox_device(path: str, text: str, line: int, col: int, obj: Any) -> Device | None:
    if not isinstance(obj, dict):
        raise _error(path, line, col, 1, "a device must be a JSON object", text)
    name = str(obj.get("name") or obj.get("display") or "")
    ip = _get(obj, "primary_ip4", "address") or (
        obj.get("primary_ip4") if isinstance(obj.get("primary_ip4"), str) else None
    )
    if not ip:
        return None
    if not isinstance(ip, str):
        raise _error(path, line, col, 1, f"device '{name}': primary_ip4 is not an address", text)
    address = _address(path, text, line, col, ip)
    kind = (
        _get(obj, "device_type", "model")
        or _get(obj, "role", "name")
        or _get(obj, "device_role", "name")
        or ""
    )
    cls = _get(obj, "custom_fields", "zonewall_class") or ""
    mac = _get(obj, "custom_fields", "mac") or ""
    crit = _get(obj, "custom_fields", "criticality") or ""
    for label, value in (
        ("custom_fields.zonewall_class", cls),
        ("custom_fields.mac", mac),
        ("custom_fields.criticality", crit),
        ("device_type.model", kind),
    ):
        if not isinstance(value, str):
            raise _error(path, line, col, 1, f"device '{name}': {label} is not a string", text)
    if cls and (not NAME.match(cls) or cls in RESERVED):
        raise _error(
            path,
            line,
            col,
            1,
            f"device '{name}': class '{cls}' is not a zonewall "
            "name (lower-case letters, digits and '_', starting with a letter; not a "
            "reserved word such as 'any')",
            text,
        )
    if mac and not MAC.match(mac):
        raise _error(path, line, col, 1, f"device '{name}': '{mac}' is not a MAC address", text)
    if crit and crit.lower() not in CRITICALITIES:
        raise _error(
            path,
            line,
            col,
            1,
            f"device '{name}': criticality '{crit}' is not one of {', '.join(CRITICALITIES)}",
            text,
        )
    span = Span(path, line, col, line, col + 1)
    return Device(span, address, name, kind, mac.lower(), cls, span if cls else None, crit.lower())


# ---------------------------------------------------------------------------------------------
# the inventory against the policy
# ---------------------------------------------------------------------------------------------


def check_inventory(c: CompiledPolicy, devices: Sequence[Device]) -> list[Diagnostic]:
    """W119 device outside its class's subnets, W120 device in no class, W121 a class with
    devices of mixed types, W122 more devices than the class's `hosts`, W123 a device that
    names a class the policy lacks."""
    out: list[Diagnostic] = []
    classes = {k.name: k for k in c.classes}
    members: dict[str, list[Device]] = {}
    for d in devices:
        by_address = next(
            (k.name for k in c.classes if any(d.address.ip in p for p in k.prefixes)), None
        )
        if d.cls and d.cls not in classes:
            out.append(
                Diagnostic(
                    Severity.WARNING,
                    "W123",
                    f"device {d.label} names class '{d.cls}', which the "
                    f"policy does not have{suggest(d.cls, classes)}",
                    d.cls_span or d.span,
                )
            )
            continue
        if d.cls and by_address != d.cls:
            where = f"class '{by_address}'" if by_address else "no class"
            nets = ", ".join(str(p) for p in classes[d.cls].prefixes)
            out.append(
                Diagnostic(
                    Severity.WARNING,
                    "W119",
                    f"device {d.label} is outside the subnets of its "
                    f"class '{d.cls}' ({nets}); its address is in {where}: re-address the device "
                    "or correct its class",
                    d.span,
                    _class_note(c, d.cls),
                )
            )
        elif not d.cls and by_address is None:
            out.append(
                Diagnostic(
                    Severity.WARNING,
                    "W120",
                    f"device {d.label} is in no class: its address is "
                    "in no class's subnet and the inventory names none; add it to a class or "
                    "retire it",
                    d.span,
                )
            )
        cls = d.cls or by_address
        if cls is not None:
            members.setdefault(cls, []).append(d)
    hosts = {k.name: k.hosts for k in c.policy.classes}
    for cls in sorted(members):
        out.extend(_mixed(c, cls, members[cls]))
        limit = hosts.get(cls)
        if limit is not None and len(members[cls]) > limit:
            extra = members[cls][limit]
            out.append(
                Diagnostic(
                    Severity.WARNING,
                    "W122",
                    f"class '{cls}' has {len(members[cls])} devices in "
                    f"the inventory, more than its 'hosts {limit}' (this is device {limit + 1}); "
                    "raise 'hosts' before the subnet runs out",
                    extra.span,
                    _class_note(c, cls),
                )
            )
    return out


def _class_note(c: CompiledPolicy, cls: str) -> tuple[tuple[str, Span | None], ...]:
    span = next((k.span for k in c.classes if k.name == cls), None)
    return ((f"class '{cls}' is defined here", span),)


def _mixed(c: CompiledPolicy, cls: str, devices: list[Device]) -> list[Diagnostic]:
    types: dict[str, list[Device]] = {}
    for d in devices:
        if d.type:
            types.setdefault(d.type, []).append(d)
    if len(types) < 2:
        return []
    ranked = sorted(types.items(), key=lambda kv: (-len(kv[1]), kv[1][0].span.line))
    odd = ranked[1][1][0]
    listed = ", ".join(f"'{t}' ({len(ds)})" for t, ds in ranked)
    notes = tuple((f"first device of type '{t}'", ds[0].span) for t, ds in ranked)
    return [
        Diagnostic(
            Severity.WARNING,
            "W121",
            f"class '{cls}' has devices of mixed types: {listed}; a class "
            "should hold one kind of device (split it, or correct the inventory)",
            odd.span,
            notes + _class_note(c, cls),
        )
    ]


def with_inventory(report: CheckReport, path: str) -> CheckReport:
    """`check --inventory`: the report with the inventory's diagnostics added (E112 when it
    cannot be read, else W119-W123), the inventory's text among the sources for the carets."""
    if report.compiled is None or report.errors:
        return report
    try:
        devices, text = read_inventory(path)
        found = check_inventory(report.compiled, devices)
    except InventoryError as exc:
        text, found = exc.source, [exc.diagnostic]
    sources = dict(report.sources)
    if text:
        sources[path] = text
    return CheckReport(
        report.path,
        sort_diagnostics([*report.diagnostics, *found]),
        report.assertions,
        sources,
        report.compiled,
    )
