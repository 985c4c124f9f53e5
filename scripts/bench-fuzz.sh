#!/usr/bin/env bash
# Fuzzing performance in one run (docs/performance.md, "conform fuzz"):
#  1. cases per second against dnsmasq: `conform fuzz dhcp` versus a scapy loop
#     (scripts/bench-fuzz-scapy.py, python3-scapy from Debian) sending the same cases and
#     awaiting the same replies (case, canary DORA, releases), each against a fresh dnsmasq
#     configured as profiles/dnsmasq.yaml with its lease file on tmpfs;
#  2. the same conform run with dnsmasq's lease file on disk (dnsmasq fsyncs every ACK/RELEASE);
#  3. memory over MEM_CASES cases against the fixture server: peak RSS at start and end.
#
# Usage: sudo scripts/bench-fuzz.sh            (N=2000 SEED=7 MEM_CASES=1000000 by default)
# Needs root, iproute2, dnsmasq, python3-scapy. Everything runs in network namespaces this
# script or conform creates; they are removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000}
SEED=${SEED:-7}
MEM_CASES=${MEM_CASES:-1000000}

cargo build -q --release -p conform -p dhcp-fixture
bin=target/release/conform
work=$(mktemp -d /dev/shm/cf-bench.XXXXXX)
"$bin" fuzz dhcp --export-cases "$work/cases.txt" --cases "$N" --seed "$SEED"

# --- 1a. scapy against dnsmasq, in a lab of our own -------------------------------------------
id=$$
ns_s=cfb${id}s ns_c=cfb${id}c if_s=cfb${id}s0 if_c=cfb${id}c0
dns_pid=""
cleanup() {
    [ -n "$dns_pid" ] && kill "$dns_pid" 2>/dev/null && wait "$dns_pid" 2>/dev/null || true
    ip netns del "$ns_s" 2>/dev/null || true
    ip netns del "$ns_c" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns_s"
ip netns add "$ns_c"
ip link add "$if_s" netns "$ns_s" type veth peer name "$if_c" netns "$ns_c"
ip -n "$ns_s" link set lo up
ip -n "$ns_c" link set lo up
ip -n "$ns_s" link set "$if_s" address 02:cf:00:00:00:01
ip -n "$ns_s" addr add 192.0.2.1/24 dev "$if_s"
ip -n "$ns_c" addr add 192.0.2.2/24 dev "$if_c"
ip -n "$ns_s" link set "$if_s" up
ip -n "$ns_c" link set "$if_c" up
# As the lab does: the client side answers ARP for pool addresses (RENEWING replies).
for r in 192.0.2.100/30 192.0.2.104/29 192.0.2.112/28 192.0.2.128/26 192.0.2.192/29 192.0.2.200/32; do
    ip -n "$ns_c" route add local "$r" dev lo
done
cat > "$work/dnsmasq.conf" <<EOF
port=0
interface=$if_s
bind-interfaces
except-interface=lo
dhcp-range=192.0.2.100,192.0.2.200,255.255.255.0,3600
dhcp-leasefile=$work/dnsmasq.leases
dhcp-authoritative
dhcp-option=option:router,192.0.2.1
no-ping
pid-file=$work/dnsmasq.pid
log-facility=-
log-dhcp
EOF
: > "$work/dnsmasq.leases"
ip netns exec "$ns_s" dnsmasq -k --conf-file="$work/dnsmasq.conf" --user=root 2> "$work/dnsmasq.log" &
dns_pid=$!
sleep 1
echo "=== scapy loop, $N cases of seed $SEED against dnsmasq (lease file on tmpfs)"
scapy_out=$(ip netns exec "$ns_c" /usr/bin/python3 scripts/bench-fuzz-scapy.py "$if_c" "$work/cases.txt" "$N")
echo "$scapy_out"
kill "$dns_pid"; wait "$dns_pid" 2>/dev/null || true; dns_pid=""

# --- 1b. conform against dnsmasq: same cases, every finding ignored (no shrinking) -----------
echo "=== conform fuzz, $N cases of seed $SEED against dnsmasq (lease file on tmpfs)"
conform_out=$("$bin" fuzz dhcp --target dnsmasq --seed "$SEED" --cases "$N" --ignore "" \
    --no-regressions --quiet --out "$work/lab" 2>&1)
echo "$conform_out" | grep -E 'cases in|rss'

# --- 2. conform against dnsmasq with the lease file on disk ----------------------------------
echo "=== conform fuzz, $N cases of seed $SEED against dnsmasq (lease file on disk)"
disk=$(mktemp -d conform-out/bench-fuzz.XXXXXX)
disk_out=$("$bin" fuzz dhcp --target dnsmasq --seed "$SEED" --cases "$N" --ignore "" \
    --no-regressions --quiet --out "$disk" 2>&1)
rm -rf "$disk"
echo "$disk_out" | grep -E 'cases in'

rate() { sed -n 's/.*(\([0-9.]*\) cases\/s).*/\1/p' | head -1; }
s_rate=$(echo "$scapy_out" | sed -n 's/.* rate \([0-9.]*\) .*/\1/p')
c_rate=$(echo "$conform_out" | rate)
awk -v c="$c_rate" -v s="$s_rate" 'BEGIN { printf "=== ratio conform/scapy: %.1fx (%s vs %s cases/s)\n", c / s, c, s }'

# --- 3. memory over MEM_CASES cases against the fixture --------------------------------------
sed 's#target/debug/dhcp-fixture#target/release/dhcp-fixture#' fixtures/dhcp-fixture/profiles/clean.yaml > "$work/fixture.yaml"
echo "=== conform fuzz, $MEM_CASES cases against the clean fixture (memory)"
"$bin" fuzz dhcp --target "$work/fixture.yaml" --seed "$SEED" --cases "$MEM_CASES" --no-regressions \
    --quiet --out "$work/lab" 2>&1 | grep -E 'rss|cases in|finding'
