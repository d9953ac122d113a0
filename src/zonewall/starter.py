"""`zonewall init`: a small commented starter policy that checks and builds clean.

The text is a real policy, held to that by a test (check with --warnings-as-errors, fmt
--check, build): a newcomer's first build must not start with a warning.
"""

from __future__ import annotations

import errno
import os

__all__ = ["STARTER", "STARTER_NAME", "write_starter"]

STARTER_NAME = "policy.zw"

# the internet external is one line in canonical layout: longer than this file may be
_INTERNET = (
    "0.0.0.0/0 except 0.0.0.0/8, 10.0.0.0/8, 100.64.0.0/10, 127.0.0.0/8, "
    "169.254.0.0/16, 172.16.0.0/12, 192.168.0.0/16, 198.18.0.0/15, 224.0.0.0/4, "
    "240.0.0.0/4"
)

STARTER = """# policy.zw: a starter segmentation policy written by `zonewall init`.
#
# Edit it for your site, then:
#   zonewall check policy.zw            # parse it and prove every assertion
#   zonewall build policy.zw -o out     # write proven configs (only when check is clean)
#   zonewall explain policy.zw guest_wifi ehr_app --service https
#
# Everything not allowed below is denied. Lines starting with # are comments.

# Address and VLAN pools: classes with `hosts N` get a subnet and a VLAN from them.
pool subnets 10.60.0.0/16
pool vlans 100-199

# Services: a name for one or more protocol/port sets.
service https = tcp/443
service hl7   = tcp/2575 plaintext  # HL7 v2 over MLLP: cleartext, so `encrypted` flags it
service ssh   = tcp/22
service dns   = udp/53, tcp/53
service dhcp  = udp/67

# Device classes: each becomes a segment (a subnet and a VLAN) on the gateway.
class infusion_pumps {
  hosts 40
  criticality high
  tags medical
  description "Infusion pumps: reach only their drug-library server"
}
class pump_server {
  hosts 4
  tags medical, server
  description "Drug-library and pump management server"
}
class ehr_app {
  hosts 8
  tags server
  description "Electronic health record application servers"
}
class infra {
  hosts 4
  tags server
  description "DNS and DHCP servers"
}
class staff {
  hosts 200
  description "Clinical and office workstations"
}
class netops {
  hosts 4
  description "Network operations: the only place the gateway is managed from"
}
class guest_wifi {
  hosts 500
  tags untrusted
  description "Patient and visitor Wi-Fi: internet only"
}

# Addresses outside the hospital. Private and special-purpose space is never "internet".
external internet {
  address @INTERNET@
}

# Allowed flows (source -> destination : services "why"). Order does not matter.
allow infusion_pumps -> pump_server : https                "drug library updates and event logs"
allow pump_server -> ehr_app : hl7                         "pump events into the patient record"
allow staff -> ehr_app : https                             "clinicians use the EHR"
allow staff, infusion_pumps, ehr_app -> infra : dns, dhcp  "name resolution and addresses"
allow guest_wifi -> infra : dhcp                           "guests get an address"
allow staff, guest_wifi -> internet : https                "web access"
allow netops -> tag:server : ssh                           "server administration"
allow netops -> gateway:fw : ssh                           "managing the firewall"

# The gateway that enforces it: one Linux firewall routing every class.
gateway fw {
  platform iptables
  interface "eth1.{vlan}"  # one VLAN subinterface per class
  uplink "eth0"            # towards the internet
  serves internal
}

# What must always hold. `check` proves each one, and fails when a change breaks it.
assert denied guest_wifi -> tag:medical, ehr_app, staff
assert unreachable guest_wifi -> criticality:high
assert only pump_server -> infusion_pumps
assert allowed infusion_pumps -> pump_server : https
assert denied tag:untrusted -> gateway:fw
assert limited infusion_pumps -> internal : https, dns, dhcp
""".replace("@INTERNET@", _INTERNET)


def write_starter(folder: str) -> str:
    """Write `folder/policy.zw` (the folder is created if missing) and return its path.

    Raises:
        FileExistsError: the file exists (it is never overwritten).
        OSError: the folder or the file cannot be created.
    """
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, STARTER_NAME)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o644)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a symlink at the name: refuse like an existing file
            raise FileExistsError(errno.EEXIST, "a symbolic link is in the way", path) from None
        raise
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(STARTER)
    return path
