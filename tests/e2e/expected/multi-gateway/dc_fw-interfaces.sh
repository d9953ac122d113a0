#!/bin/sh
# zonewall 0.1.0  backend: linux interface config (iproute2)  -- DO NOT EDIT
# policy: examples/multi-gateway.zw  sha256: 250008ea68f675a29e82e07f59d0ec8b9c069076490d5962e10a3854cfc0e336
# gateway: dc_fw (nftables)
# run as root: sh dc_fw-interfaces.sh, after loading dc_fw.nft
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

zw_check eth1 eth1.300 300
zw_check eth1 eth1.301 301
zw_check eth1 eth1.302 302

ip link set dev eth1 up

# class ehr_app: EHR application servers
zw_vlan eth1 eth1.300 300
ip address replace 10.60.200.1/27 dev eth1.300
ip link set dev eth1.300 up

# class hl7_engine: HL7 interface engine
zw_vlan eth1 eth1.301 301
ip address replace 10.60.200.33/28 dev eth1.301
ip link set dev eth1.301 up

# class core_svc: DNS, NTP and syslog collectors
zw_vlan eth1 eth1.302 302
ip address replace 10.60.200.49/28 dev eth1.302
ip link set dev eth1.302 up

# route between the VLANs (the ruleset decides what may cross)
sysctl -q -w net.ipv4.ip_forward=1
