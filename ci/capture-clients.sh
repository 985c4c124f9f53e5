#!/usr/bin/env bash
# Regenerates the real-client corpus suites/dhcp/clients/<client>.pcapng: one DORA of each real
# DHCP client from Debian's packages against dnsmasq, captured on the client's interface.
#
# The lab is the one of profiles/dnsmasq.yaml (server 192.0.2.1/24, pool .100-.200, router
# .1, lease 3600 s), built here with `ip netns`: a server and a client namespace joined by a
# veth pair. Everything stays inside the two namespaces this script creates (and removes on
# exit). Needs root, dnsmasq, tcpdump, editcap (wireshark-common) and the clients:
#   apt-get install -y dnsmasq-base tcpdump wireshark-common isc-dhcp-client dhcpcd-base udhcpc
#
# Usage: ci/capture-clients.sh [--out DIR] [CLIENT...]   (clients: dhclient dhcpcd udhcpc networkd)
set -euo pipefail
cd "$(dirname "$0")/.."
out=suites/dhcp/clients
clients=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) clients+=("$1"); shift ;;
  esac
done
[ ${#clients[@]} -gt 0 ] || clients=(dhclient dhcpcd udhcpc networkd)
[ "$(id -u)" = 0 ] || { echo "capture-clients: needs root (network namespaces)" >&2; exit 2; }
for t in ip dnsmasq tcpdump editcap; do
  command -v "$t" >/dev/null || { echo "capture-clients: $t is not installed" >&2; exit 2; }
done
mkdir -p "$out"

. ci/netns-pair.sh
netns_pair cfcap capture-clients

start_dnsmasq() {
  rm -f "$tmp/dnsmasq.leases"; : > "$tmp/dnsmasq.leases"
  cat > "$tmp/dnsmasq.conf" <<EOF
port=0
interface=eth0
bind-interfaces
except-interface=lo
dhcp-range=192.0.2.100,192.0.2.200,255.255.255.0,3600
dhcp-leasefile=$tmp/dnsmasq.leases
dhcp-authoritative
dhcp-option=option:router,192.0.2.1
no-ping
log-facility=$tmp/dnsmasq.log
log-dhcp
EOF
  ip netns exec "$srv" dnsmasq -k --conf-file="$tmp/dnsmasq.conf" --user=root --pid-file="$tmp/dnsmasq.pid" &
  dnsmasq_pid=$!
  pids+=("$dnsmasq_pid")
  sleep 0.5
}

stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# Number of DHCPACKs (option 53 = 5) in a capture.
acks() { tcpdump -r "$1" -nn -v 2>/dev/null | grep -c 'DHCP-Message (53), length 1: ACK' || true; }

capture() {
  local name=$1 mac=$2; shift 2
  echo "== $name: $*"
  start_dnsmasq
  ip -n "$cli" link set eth0 down
  ip -n "$cli" addr flush dev eth0
  ip -n "$cli" link set eth0 address "$mac"
  ip -n "$cli" link set eth0 up
  sleep 0.3
  local raw=$tmp/$name.pcap
  ip netns exec "$cli" tcpdump -i eth0 -s 0 -U -w "$raw" 'udp port 67 or udp port 68' 2>"$tmp/tcpdump.log" &
  local tcpdump_pid=$!
  pids+=("$tcpdump_pid")
  sleep 1
  ( ip netns exec "$cli" "$@" >"$tmp/$name.log" 2>&1 ) &
  local client_pid=$!
  pids+=("$client_pid")
  local i
  for i in $(seq 1 150); do
    [ "$(acks "$raw")" -ge 1 ] && break
    sleep 0.1
  done
  sleep 0.5
  # The client's own process tree: end it (it may have forked into the background).
  pkill -TERM -P "$client_pid" 2>/dev/null || true
  stop_pid "$client_pid"
  [ -n "${3:-}" ] || true
  stop_pid "$tcpdump_pid"
  stop_pid "$dnsmasq_pid"
  if [ "$(acks "$raw")" -lt 1 ]; then
    echo "capture-clients: $name got no DHCPACK; its log:" >&2
    cat "$tmp/$name.log" >&2
    return 1
  fi
  editcap -F pcapng "$raw" "$out/$name.pcapng"
  echo "   $(tcpdump -r "$out/$name.pcapng" -nn 2>/dev/null | wc -l) packets -> $out/$name.pcapng"
  tcpdump -r "$out/$name.pcapng" -nn -v 2>/dev/null | grep -o 'DHCP-Message (53), length 1: [A-Za-z]*' | sed 's/.*: /   /' | tr '\n' ' '; echo
}

status=0
for c in "${clients[@]}"; do
  case "$c" in
    dhclient)
      # -1: one attempt; -d: foreground; -sf /bin/true: no interface configuration.
      capture dhclient 02:00:00:00:c1:01 dhclient -d -1 -v -sf /bin/true \
        -lf "$tmp/dhclient.leases" -pf "$tmp/dhclient.pid" eth0 || status=1 ;;
    udhcpc)
      # -f foreground, -q quit once leased, -n fail if no lease, -s /bin/true: no configuration.
      capture udhcpc 02:00:00:00:c1:02 udhcpc -f -q -n -i eth0 -s /bin/true || status=1 ;;
    dhcpcd)
      # IPv4 only, foreground, one shot, no ARP probing, no hooks; dhcpcd configures the address
      # in the client namespace only.
      capture dhcpcd 02:00:00:00:c1:03 dhcpcd -4 -B -1 -A -L -c /bin/true \
        -f /dev/null --nohook resolv.conf --nohook hostname eth0 || status=1 ;;
    networkd)
      # systemd-networkd without systemd as PID 1: in a private mount namespace with its own
      # .network file and /run/systemd, and /sys read-only so that it does not wait for udev
      # (udev_available() is false on a read-only /sys, as in containers).
      nw=/lib/systemd/systemd-networkd
      if [ ! -x "$nw" ] || ! id systemd-network >/dev/null 2>&1; then
        echo "capture-clients: networkd skipped: systemd-networkd is not installed (apt-get install systemd)" >&2
        continue
      fi
      mkdir -p "$tmp/network"
      printf '[Match]\nName=eth0\n[Network]\nDHCP=ipv4\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n' > "$tmp/network/10-eth0.network"
      capture networkd 02:00:00:00:c1:04 unshare -m sh -c "mount --bind $tmp/network /etc/systemd/network \
        && mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/netif \
        && chown systemd-network /run/systemd/netif && mount -o remount,ro,bind /sys \
        && exec $nw" || status=1 ;;
    *) echo "capture-clients: unknown client $c" >&2; status=2 ;;
  esac
done
exit $status
