#!/bin/sh
# zonewall 0.1.0  backend: linux interface config (iproute2)  -- DO NOT EDIT
# policy: examples/hospital.zw  sha256: d3d6c63398bb8fe074159c2452527e515962824343cfb23040b319713ab25ca2
# gateway: core_fw (iptables)
# run as root: sh core_fw-interfaces.sh, after loading core_fw.rules
# (the ruleset names these interfaces and loads before they exist; forwarding goes on last)
# safe to run again: every parent and existing subinterface is checked before any change
# not persistent: run it at boot; addresses and interfaces not listed here are left alone
# the uplink (eth0) is left to you
# gateway address: first usable address of each subnet, as in vlan-plan
set -eu

zw_fail() {
  echo "zonewall: $*; nothing was changed" >&2
  exit 1
}

# zw_check PARENT NAME VLAN: the parent exists; NAME is absent or is 802.1Q VLAN on PARENT
# ("ip -d -o link" prints "N: NAME@PARENT: <...> ... vlan protocol 802.1Q id VLAN <...>").
zw_check() {
  ip link show dev "$1" >/dev/null 2>&1 || zw_fail "parent interface $1 does not exist"
  if ip link show dev "$2" >/dev/null 2>&1; then
    case "$(ip -d -o link show dev "$2")" in
      *": $2@$1: "*" vlan protocol 802.1"[Qq]" id $3 "*) ;;
      *) zw_fail "$2 exists but is not 802.1Q VLAN $3 on $1; fix or remove it by hand" ;;
    esac
  fi
}

# zw_vlan PARENT NAME VLAN: create NAME unless zw_check found it in place.
zw_vlan() {
  ip link show dev "$2" >/dev/null 2>&1 || ip link add link "$1" name "$2" type vlan id "$3"
}

zw_check eth1 eth1.10 10
zw_check eth1 eth1.11 11
zw_check eth1 eth1.12 12
zw_check eth1 eth1.13 13
zw_check eth1 eth1.100 100
zw_check eth1 eth1.101 101
zw_check eth1 eth1.102 102
zw_check eth1 eth1.103 103
zw_check eth1 eth1.104 104
zw_check eth1 eth1.106 106
zw_check eth1 eth1.107 107
zw_check eth1 eth1.111 111
zw_check eth1 eth1.112 112
zw_check eth1 eth1.115 115
zw_check eth1 eth1.310 310
zw_check eth1 eth1.311 311
zw_check eth1 eth1.900 900

ip link set dev eth1 up

# class core_net: DNS resolvers, NTP servers, DHCP servers
zw_vlan eth1 eth1.10 10
ip address replace 10.40.0.1/28 dev eth1.10
ip link set dev eth1.10 up

# class ad_dc: Active Directory domain controllers (LDAPS, Kerberos)
zw_vlan eth1 eth1.11 11
ip address replace 10.40.0.17/28 dev eth1.11
ip link set dev eth1.11 up

# class siem: Syslog collectors feeding the SIEM
zw_vlan eth1 eth1.12 12
ip address replace 10.40.0.33/28 dev eth1.12
ip link set dev eth1.12 up

# class netops_ws: Network operations workstations: the only place the gateways are managed from
zw_vlan eth1 eth1.13 13
ip address replace 10.40.3.1/28 dev eth1.13
ip link set dev eth1.13 up

# class biomed_ws: Biomedical engineering workstations
zw_vlan eth1 eth1.100 100
ip address replace 10.40.0.65/26 dev eth1.100
ip link set dev eth1.100 up

# class bms_field: HVAC, lighting and access-control field controllers (BACnet/IP)
zw_vlan eth1 eth1.101 101
ip address replace 10.40.1.1/24 dev eth1.101
ip link set dev eth1.101 up

# class bms_server: Building management head-end
zw_vlan eth1 eth1.102 102
ip address replace 10.40.2.129/29 dev eth1.102
ip link set dev eth1.102 up

# class byod: Staff personal phones and tablets
zw_vlan eth1 eth1.103 103
ip address replace 10.40.8.1/21 dev eth1.103
ip link set dev eth1.103 up

# class clinician_ws: Clinical workstations and workstations-on-wheels
zw_vlan eth1 eth1.104 104
ip address replace 10.40.4.1/22 dev eth1.104
ip link set dev eth1.104 up

# class fhir_gw: FHIR R4 API gateway for staff mobile apps and the partner HIE
zw_vlan eth1 eth1.106 106
ip address replace 10.40.0.49/28 dev eth1.106
ip link set dev eth1.106 up

# class hl7_engine: HL7 interface engine (hardened integration hub)
zw_vlan eth1 eth1.107 107
ip address replace 10.40.2.65/28 dev eth1.107
ip link set dev eth1.107 up

# class lis: Laboratory information system
zw_vlan eth1 eth1.111 111
ip address replace 10.40.2.81/28 dev eth1.111
ip link set dev eth1.111 up

# class nurse_call: Nurse call servers (receive ADT for patient-bed assignment)
zw_vlan eth1 eth1.112 112
ip address replace 10.40.2.97/28 dev eth1.112
ip link set dev eth1.112 up

# class vendor_jump: Vendor remote-access jump host (MFA, session recording)
zw_vlan eth1 eth1.115 115
ip address replace 10.40.2.137/29 dev eth1.115
ip link set dev eth1.115 up

# class ehr_db: EHR production database cluster
zw_vlan eth1 eth1.310 310
ip address replace 10.41.0.1/28 dev eth1.310
ip link set dev eth1.310 up

# class ehr_app: EHR application and web servers
zw_vlan eth1 eth1.311 311
ip address replace 10.41.0.65/26 dev eth1.311
ip link set dev eth1.311 up

# class guest_wifi: Patient and visitor Wi-Fi
zw_vlan eth1 eth1.900 900
ip address replace 10.40.48.1/20 dev eth1.900
ip link set dev eth1.900 up

# route between the VLANs (the ruleset decides what may cross)
sysctl -q -w net.ipv4.ip_forward=1
