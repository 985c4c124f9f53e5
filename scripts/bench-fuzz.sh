#!/usr/bin/env bash
# Fuzzing performance in one run (docs/performance.md, "conform fuzz"):
#  1. cases per second against dnsmasq: `conform fuzz dhcp` versus a scapy loop
#     (scripts/bench-fuzz-scapy.py, python3-scapy from Debian) sending the same cases and
#     awaiting the same replies (case, canary DISCOVER/OFFER/REQUEST/ACK, RELEASE, a RELEASE for
#     what the case was given). Server configurations (VARIANTS), each run by both tools:
#       shipped  dnsmasq as profiles/dnsmasq.yaml ships it (log-dhcp: ~46 log lines per case,
#                written to server.log on tmpfs)
#       quiet    the same without log-dhcp
#       async    the shipped configuration plus log-async=100 (logging without blocking)
#     Lease files and logs on tmpfs for both tools. ROUNDS rounds, each running every variant
#     with scapy then conform back to back, so both sides of a ratio see the same machine load
#     (the load average is printed per round). conform also reports the CPU time of the server
#     and its own: a server near one core means conform is server-bound.
#  2. conform with dnsmasq's lease file on disk (dnsmasq fsyncs every ACK and RELEASE);
#  3. memory over MEM_CASES cases against the fixture server: RSS at start and end.
#
# Usage: sudo scripts/bench-fuzz.sh
#   N=5000 SEED=7 ROUNDS=3 VARIANTS="shipped quiet" MEM_CASES=1000000 by default
#   (MEM_CASES=0 skips part 3, DISK=0 skips part 2).
# scapy runs the first N cases; conform runs the first 4N (the same N and more of the same
# campaign, so its rate is measured over more than a second).
# Needs root, iproute2, dnsmasq, python3-scapy. Everything runs in network namespaces this
# script or conform creates; they are removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-5000}
CN=$((N * 4))
SEED=${SEED:-7}
MEM_CASES=${MEM_CASES:-1000000}
ROUNDS=${ROUNDS:-3}
VARIANTS=${VARIANTS:-shipped quiet}
DISK=${DISK:-1}

cargo build -q --release -p conform -p dhcp-fixture
bin=target/release/conform
work=$(mktemp -d /dev/shm/cf-bench.XXXXXX)
"$bin" fuzz dhcp --export-cases "$work/cases.txt" --cases "$N" --seed "$SEED"
sed '/^    log-dhcp$/d; s/^name: dnsmasq$/name: dnsmasq-quiet/' profiles/dnsmasq.yaml > "$work/dnsmasq-quiet.yaml"
sed 's/^    log-dhcp$/    log-dhcp\n    log-async=100/; s/^name: dnsmasq$/name: dnsmasq-async/' profiles/dnsmasq.yaml > "$work/dnsmasq-async.yaml"

id=$$
ns_s=cfb${id}s ns_c=cfb${id}c if_s=cfb${id}s0 if_c=cfb${id}c0
dns_pid=""
cleanup() {
    if [ -n "$dns_pid" ]; then kill "$dns_pid" 2>/dev/null || true; wait "$dns_pid" 2>/dev/null || true; fi
    ip netns del "$ns_s" 2>/dev/null || true
    ip netns del "$ns_c" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The scapy loop's lab: the same two namespaces, addresses and dnsmasq configuration as
# conform's lab for the dnsmasq profile.
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

scapy_run() { # $1: the logging lines of dnsmasq.conf
    cat > "$work/dnsmasq.conf" <<EOF
port=0
interface=$if_s
bind-interfaces
except-interface=lo
dhcp-range=192.0.2.100,192.0.2.200,255.255.255.0,3600
dhcp-leasefile=$work/dnsmasq.leases
dhcp-authoritative
dhcp-option=option:router,192.0.2.1
dhcp-option=option:classless-static-route,0.0.0.0/0,192.0.2.1,10.0.0.0/8,192.0.2.1,198.51.100.0/24,192.0.2.1,203.0.113.128/25,192.0.2.1,203.0.113.7/32,192.0.2.1
no-ping
pid-file=$work/dnsmasq.pid
log-facility=-
$1
EOF
    : > "$work/dnsmasq.leases"
    # As conform's lab does: stderr appended to a file on tmpfs.
    ip netns exec "$ns_s" dnsmasq -k --conf-file="$work/dnsmasq.conf" --user=root 2>>"$work/dnsmasq.log" &
    dns_pid=$!
    sleep 1
    ip netns exec "$ns_c" /usr/bin/python3 scripts/bench-fuzz-scapy.py "$if_c" "$work/cases.txt" "$N" 2>/dev/null
    kill "$dns_pid"; wait "$dns_pid" 2>/dev/null || true; dns_pid=""
}

conform_run() { # $1: target; $2: lab directory
    "$bin" fuzz dhcp --target "$1" --seed "$SEED" --cases "$CN" --ignore "" --no-regressions --quiet --out "$2" 2>&1
}

rate_c() { sed -n 's/.*(\([0-9.]*\) cases\/s).*/\1/p' | head -1; }
rate_s() { sed -n 's/.* rate \([0-9.]*\) .*/\1/p'; }

ratios="$work/ratios"
: > "$ratios"
for round in $(seq 1 "$ROUNDS"); do
    echo "=== round $round, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    for variant in $VARIANTS; do
        case $variant in
            shipped) logopt=log-dhcp; target=dnsmasq ;;
            quiet) logopt=""; target="$work/dnsmasq-quiet.yaml" ;;
            async) logopt=$'log-dhcp\nlog-async=100'; target="$work/dnsmasq-async.yaml" ;;
            *) echo "unknown variant $variant" >&2; exit 2 ;;
        esac
        echo "--- dnsmasq $variant, seed $SEED: scapy $N cases, conform $CN"
        s_out=$(scapy_run "$logopt")
        echo "scapy:   $s_out"
        c_out=$(conform_run "$target" "$work/lab")
        echo "conform: $(echo "$c_out" | grep 'cases in')"
        echo "         $(echo "$c_out" | grep 'cpu:')"
        r=$(awk -v c="$(echo "$c_out" | rate_c)" -v s="$(echo "$s_out" | rate_s)" 'BEGIN { printf "%.1f", c / s }')
        echo "ratio conform/scapy: ${r}x"
        echo "$variant $r" >> "$ratios"
    done
done
echo "=== ratios conform/scapy over $ROUNDS rounds (min / median / max)"
for variant in $VARIANTS; do
    awk -v v="$variant" '$1 == v { print $2 }' "$ratios" | sort -n | awk -v v="$variant" \
        '{ a[NR] = $1 } END { printf "%-8s %sx / %sx / %sx\n", v, a[1], a[int((NR + 1) / 2)], a[NR] }'
done

if [ "$DISK" != 0 ]; then
    echo "=== conform, dnsmasq shipped, lease file on disk (conform-out)"
    mkdir -p conform-out
    disk=$(mktemp -d conform-out/bench-fuzz.XXXXXX)
    conform_run dnsmasq "$disk" | grep -E 'cases in|cpu:'
    rm -rf "$disk"
fi

if [ "$MEM_CASES" != 0 ]; then
    sed 's#target/debug/dhcp-fixture#target/release/dhcp-fixture#' fixtures/dhcp-fixture/profiles/clean.yaml > "$work/fixture.yaml"
    echo "=== conform, $MEM_CASES cases against the clean fixture (memory)"
    "$bin" fuzz dhcp --target "$work/fixture.yaml" --seed "$SEED" --cases "$MEM_CASES" --no-regressions \
        --quiet --out "$work/lab" 2>&1 | grep -E 'rss|cases in|finding|cpu:'
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
