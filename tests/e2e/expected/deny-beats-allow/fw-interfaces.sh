#!/bin/sh
# zonewall 0.1.0  backend: linux interface config (iproute2)  -- DO NOT EDIT
# policy: examples/deny-beats-allow.zw  sha256: e0454b1ec60225f4f6a568dce0357bfab4e0a78bda330e3fbe1405cd86f720f9
# gateway: fw (iptables)
# run as root: sh fw-interfaces.sh, after loading fw.rules
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

zw_check eth1 eth1.100 100
zw_check eth1 eth1.101 101
zw_check eth1 eth1.102 102

ip link set dev eth1 up

# class ct_mr
zw_vlan eth1 eth1.100 100
ip address replace 10.40.0.1/27 dev eth1.100
ip link set dev eth1.100 up

# class legacy_win
zw_vlan eth1 eth1.101 101
ip address replace 10.40.0.33/27 dev eth1.101
ip link set dev eth1.101 up

# class pacs
zw_vlan eth1 eth1.102 102
ip address replace 10.40.0.65/28 dev eth1.102
ip link set dev eth1.102 up

# route between the VLANs (the ruleset decides what may cross)
sysctl -q -w net.ipv4.ip_forward=1
