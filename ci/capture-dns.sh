#!/usr/bin/env bash
# Regenerates the DNS capture corpus suites/dns/captures/: real DNS clients (dig, kdig) asking
# NSD for the lab zone example.test (profiles/zones/example.test.zone), captured on the
# client's side.
#
# The lab is the one of profiles/nsd.yaml (server 192.0.2.1:53), built here with `ip netns`: a
# server and a client namespace joined by a veth pair. Everything stays inside the two
# namespaces this script creates (and removes on exit). Needs root, nsd, tcpdump, editcap
# (wireshark-common), dig (bind9-dnsutils) and kdig (knot-dnsutils).
#
#   dig.pcapng   Ethernet, pcapng: dig 9.18 with its defaults (RD, AD, EDNS 1232 with a COOKIE)
#                and variations: +norecurse, +noedns, +dnssec +cd, +nsid, EDNS version 1
#                (BADVERS), NXDOMAIN, NODATA, CNAME, wildcard, three A records, a referral, MX
#                with glue, TXT, out of zone (REFUSED), and an AXFR (over TCP: replay skips it).
#   kdig.pcap    Linux cooked (tcpdump -i any), pcap: kdig 3.2 (no RD by default variants,
#                +cookie, +padding, +bufsize, +nsid, +expire).
#   conform-nsd.pcapng  pcapng recorded by `conform run suites/dns/{rfc1034,rfc1035,rfc2308}
#                --target nsd --pcap` (its own lab; a comment per packet): the trace for the
#                offline check `conform run ... --adapter pcap:` (docs/pcap.md).
#
# Usage: ci/capture-dns.sh [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=suites/dns/captures
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "capture-dns: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "capture-dns: needs root (network namespaces)" >&2; exit 2; }
for t in ip nsd tcpdump editcap dig kdig; do
  command -v "$t" >/dev/null || { echo "capture-dns: $t is not installed" >&2; exit 2; }
done
mkdir -p "$out"

. ci/netns-pair.sh
netns_pair cfdns capture-dns
ip -n "$cli" link set eth0 address 02:00:00:00:c1:01
ip -n "$cli" addr add 192.0.2.2/24 dev eth0
ip -n "$cli" link set eth0 up
# Static neighbours: no ARP in the captures.
ip -n "$cli" neigh add 192.0.2.1 lladdr 02:00:00:00:01:01 dev eth0
ip -n "$srv" neigh add 192.0.2.2 lladdr 02:00:00:00:c1:01 dev eth0

cp profiles/zones/example.test.zone "$tmp/example.test.zone"
cat > "$tmp/nsd.conf" <<EOF
server:
    ip-address: 192.0.2.1@53
    do-ip6: no
    username: ""
    chroot: ""
    database: ""
    zonesdir: "$tmp"
    zonelistfile: "$tmp/zone.list"
    xfrdfile: "$tmp/xfrd.state"
    xfrdir: "$tmp"
    pidfile: "$tmp/nsd.pid"
    logfile: "$tmp/nsd.log"
    server-count: 1
    nsid: "ascii_conform-nsd"
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: "example.test"
    zonefile: "$tmp/example.test.zone"
EOF
nsd-checkconf "$tmp/nsd.conf"
ip netns exec "$srv" nsd -d -c "$tmp/nsd.conf" &
pids+=($!)
for _ in $(seq 50); do
  ip netns exec "$cli" dig +short +time=1 +tries=1 @192.0.2.1 example.test SOA >/dev/null 2>&1 && break
  sleep 0.1
done

# capture NAME IFACE FORMAT COMMANDS...: runs the commands in the client namespace while
# tcpdump captures on IFACE there.
capture() {
  local name=$1 iface=$2 format=$3; shift 3
  ip netns exec "$cli" tcpdump --immediate-mode -s 0 -U -i "$iface" -w "$tmp/$name.raw" port 53 2>"$tmp/$name.tcpdump" &
  local tp=$!
  pids+=("$tp")
  sleep 1
  for q in "$@"; do
    # shellcheck disable=SC2086
    ip netns exec "$cli" $q >>"$tmp/$name.out" 2>&1 || true
  done
  sleep 1
  kill -INT "$tp"; wait "$tp" 2>/dev/null || true
  editcap -F "$format" "$tmp/$name.raw" "$out/$name.$format"
  echo "capture-dns: $out/$name.$format: $(grep -o '[0-9]* packets captured' "$tmp/$name.tcpdump")"
}

d="dig +time=2 +tries=1 @192.0.2.1"
capture dig eth0 pcapng \
  "$d example.test SOA" \
  "$d www.example.test A +norecurse" \
  "$d www.example.test AAAA" \
  "$d example.test MX" \
  "$d nosuch.example.test A" \
  "$d www.example.test MX" \
  "$d alias.example.test A" \
  "$d host.wild.example.test A" \
  "$d multi.example.test A" \
  "$d www.child.example.test A +norecurse" \
  "$d txt.example.test TXT +dnssec +cd" \
  "$d www.example.test A +noedns" \
  "$d example.test SOA +edns=1 +noednsnegotiation" \
  "$d example.test NS +nsid" \
  "$d www.example.org A" \
  "$d example.test AXFR"

k="kdig +timeout=2 +retry=0 @192.0.2.1"
capture kdig any pcap \
  "$k example.test SOA" \
  "$k www.example.test A +cookie" \
  "$k mail.example.test A +bufsize=4096 +nsid" \
  "$k _sip._tcp.example.test SRV +padding=64" \
  "$k a.b.ent.example.test A +dnssec" \
  "$k b.ent.example.test A" \
  "$k example.test SOA +expire"

# The conform recording: its own lab (the namespaces above are not used).
conform=${CONFORM:-}
if [ -z "$conform" ]; then
  cargo build -q -p conform
  conform=target/debug/conform
fi
"$conform" run suites/dns/rfc1034 suites/dns/rfc1035 suites/dns/rfc2308 --target nsd \
  --pcap "$out/conform-nsd.pcapng" --out "$tmp/conform-out" >/dev/null
echo "capture-dns: $out/conform-nsd.pcapng"

ls -l "$out"
