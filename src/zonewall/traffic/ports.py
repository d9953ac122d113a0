"""Well-known medical and IT services by port, for `zonewall learn` and for telling a flow
record's server side from its client's ephemeral port.

A service's name is what `learn` writes (`service dicom = tcp/104, tcp/11112, tcp/2762`) when
the policy given with `--policy` has no service of its own for the port.  `plaintext` marks
protocols that carry patient or credential data in clear (DICOM without TLS, HL7 MLLP, ASTM,
syslog over UDP, SNMP v1/v2c, LDAP, telnet, ...), as the language's `plaintext` flag means.

**Which side is the server.**  A flow exporter that records each direction of a connection as
its own record (NetFlow, IPFIX, the kernel and IOS log lines) writes the reply of an HL7
connection as `LIS:2575 -> analyzer:49812`.  A record is read as a reply, and turned around,
when its destination port is ephemeral (`EPHEMERAL_FROM` and up: the Linux default range
starts at 32768, Windows' at 49152) and its source port is a server port: below 1024, in this
table, or a port of one of the policy's services.  Zeek's `conn.log` is connection-oriented
(the originator is the client) and is never turned around.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EPHEMERAL_FROM", "WELL_KNOWN", "WellKnown", "server_ports"]

EPHEMERAL_FROM = 32768

TCP, UDP = 6, 17


@dataclass(frozen=True, slots=True)
class WellKnown:
    name: str
    items: tuple[tuple[int, int], ...]  # (protocol number, port)
    plaintext: bool
    what: str


def _w(name: str, items: str, plaintext: bool, what: str) -> WellKnown:
    parsed = []
    for item in items.split():
        proto, port = item.split("/")
        parsed.append((TCP if proto == "tcp" else UDP, int(port)))
    return WellKnown(name, tuple(parsed), plaintext, what)


# Names are lower case and none is a reserved word of the language.  Order: medical first.
WELL_KNOWN: tuple[WellKnown, ...] = (
    _w("dicom", "tcp/104 tcp/11112", True, "DICOM (C-STORE, C-FIND, C-MOVE)"),
    _w("dicom_tls", "tcp/2762", False, "DICOM over TLS"),
    _w("hl7", "tcp/2575", True, "HL7 v2 over MLLP"),
    _w("astm", "tcp/1394", True, "ASTM E1381/E1394 laboratory instruments (LIS2-A2)"),
    _w("poct1a", "tcp/5500", True, "POCT1-A point-of-care devices"),
    _w("https", "tcp/443", False, "HTTPS, FHIR and web services"),
    _w("http", "tcp/80", True, "HTTP"),
    _w("http_alt", "tcp/8080", True, "HTTP on 8080"),
    _w("https_alt", "tcp/8443", False, "HTTPS on 8443"),
    _w("ssh", "tcp/22", False, "SSH"),
    _w("telnet", "tcp/23", True, "telnet"),
    _w("ftp", "tcp/21", True, "FTP control"),
    _w("smtp", "tcp/25 tcp/587", True, "SMTP"),
    _w("dns", "udp/53 tcp/53", True, "DNS"),
    _w("dhcp", "udp/67", True, "DHCP"),
    _w("ntp", "udp/123", True, "NTP"),
    _w("kerberos", "tcp/88 udp/88", False, "Kerberos"),
    _w("msrpc", "tcp/135", True, "Microsoft RPC endpoint mapper"),
    _w("netbios", "udp/137 udp/138 tcp/139", True, "NetBIOS"),
    _w("ldap", "tcp/389 udp/389", True, "LDAP"),
    _w("ldaps", "tcp/636", False, "LDAP over TLS"),
    _w("global_catalog", "tcp/3268", True, "Active Directory global catalog"),
    _w("smb", "tcp/445", False, "SMB file sharing"),
    _w("snmp", "udp/161", True, "SNMP"),
    _w("snmp_trap", "udp/162", True, "SNMP traps"),
    _w("syslog", "udp/514", True, "syslog"),
    _w("syslog_tls", "tcp/6514", False, "syslog over TLS"),
    _w("rdp", "tcp/3389", False, "Remote Desktop"),
    _w("vnc", "tcp/5900", True, "VNC"),
    _w("mssql", "tcp/1433", False, "Microsoft SQL Server"),
    _w("oracle", "tcp/1521", True, "Oracle database"),
    _w("postgres", "tcp/5432", False, "PostgreSQL"),
    _w("mysql", "tcp/3306", False, "MySQL"),
    _w("radius", "udp/1812 udp/1813", True, "RADIUS"),
    _w("tftp", "udp/69", True, "TFTP (phones, device firmware)"),
    _w("sip", "udp/5060 tcp/5060", True, "SIP (nurse call, phones)"),
    _w("mqtt", "tcp/1883", True, "MQTT"),
    _w("mqtts", "tcp/8883", False, "MQTT over TLS"),
    _w("bacnet", "udp/47808", True, "BACnet (building management)"),
    _w("modbus", "tcp/502", True, "Modbus/TCP"),
    _w("winrm", "tcp/5985 tcp/5986", False, "Windows Remote Management"),
    _w("printer", "tcp/9100 tcp/631 tcp/515", True, "printing (raw, IPP, LPD)"),
)


def server_ports(extra: set[int] | frozenset[int] = frozenset()) -> tuple[int, ...]:
    """Ports (TCP or UDP) that mark a record's source as the server side: every port below
    1024, the table's ports and `extra` (the policy's own single-port services), sorted."""
    ports = set(range(1024)) | {p for w in WELL_KNOWN for _, p in w.items} | set(extra)
    return tuple(sorted(p for p in ports if p < EPHEMERAL_FROM))
