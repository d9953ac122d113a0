#!/bin/sh
# How the firewalld tables in this folder were printed (not run by the tests).  As root, with
# firewalld and dbus-daemon installed (Debian: apt-get install firewalld), from the repository:
#   sh tests/e2e/firewalld/capture.sh OUT
# firewalld runs in its own network namespace with a private system bus, beside the nftables
# build of examples/hospital.zw's core_fw; each variant's `table inet firewalld` is cut from
# `nft list ruleset` into OUT/VARIANT.nft (see device_outputs.py for the variants).
set -eu
out=$(realpath "$1"); mkdir -p "$out"; work=$(mktemp -d); ns=zw-firewalld
sed 's/platform iptables/platform nftables/' examples/hospital.zw > "$work/hospital.zw"
python -m zonewall build "$work/hospital.zw" -o "$work/build" > /dev/null
vlans=$(grep -o 'eth1\.[0-9]*' "$work/build/core_fw.nft" | sort -u)
cat > "$work/bus.conf" <<CONF
<busconfig><type>system</type><listen>unix:path=$work/bus</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/>
<allow eavesdrop="true"/><allow own="*"/><allow user="*"/></policy></busconfig>
CONF
mkdir "$work/etc"; cp -r /etc/firewalld/. "$work/etc/"
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$work/bus"
ip netns add $ns
bus=; fwd=
trap 'kill $fwd 2>/dev/null; sleep 2; kill $bus 2>/dev/null; ip netns del $ns; rm -rf "$work"' EXIT
dbus-daemon --config-file="$work/bus.conf" --nofork --nopidfile 2> /dev/null & bus=$!
sleep 1
ip netns exec $ns firewalld --nofork --nopid --system-config "$work/etc" & fwd=$!
until ip netns exec $ns firewall-cmd --state > /dev/null 2>&1; do sleep 1; done
fc() { ip netns exec $ns firewall-cmd -q "$@"; }
cut() { ip netns exec $ns nft list ruleset |
  awk '/^table inet firewalld \{/{on=1} on{print} on && /^\}/{exit}' > "$out/$1.nft"; }
ip netns exec $ns nft -f "$work/build/core_fw.nft"
cut default
fc --permanent --zone=external --add-interface=eth0
for i in $vlans; do fc --permanent --zone=internal --add-interface="$i"; done
fc --reload; cut zones-reject
fc --set-log-denied=unicast; cut zones-reject-logged; fc --set-log-denied=off
for s in https snmp dhcp; do fc --permanent --zone=internal --add-service=$s; done
for p in internal-out:internal:external external-in:external:internal; do
  IFS=: read -r name from to <<P
$p
P
  fc --permanent --new-policy "$name"
  fc --permanent --policy "$name" --add-ingress-zone "$from"
  fc --permanent --policy "$name" --add-egress-zone "$to"
  fc --permanent --policy "$name" --set-target ACCEPT
done
fc --reload; cut zones-policies
for i in eth0 $vlans; do fc --zone=trusted --change-interface="$i"; done
cut trusted
