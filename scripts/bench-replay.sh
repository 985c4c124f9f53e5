#!/usr/bin/env bash
# Capture performance, in one run (figures go to docs/performance.md):
#  1. Offline check of a capture of 100,000 DHCP packets (25,000 DORAs made from the dhclient
#     capture of the corpus, each with its own MAC and xid): `conform run` of the DORA example
#     cases with `--adapter pcap:FILE` (loading, pairing and indexing every packet, then the
#     cases), against `tshark -r FILE -Y dhcp` dissecting the same file. Target: >= 10x faster.
#     Also: `conform replay FILE --adapter pcap:FILE`, every one of the 25,000 exchanges judged.
#  2. Replay pacing (root and dnsmasq): the replay of a captured DORA against dnsmasq versus a
#     minimal raw client resending the captured bytes (runner/examples/replay_pacing.rs).
# Usage: scripts/bench-replay.sh [--dora N] [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
doras=25000 runs=5
while [ $# -gt 0 ]; do
  case "$1" in
    --dora) doras=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "bench-replay.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v tshark >/dev/null || { echo "bench-replay.sh: tshark is not installed (apt-get install tshark)" >&2; exit 2; }
cargo build -q --release -p conform --bin conform --example replay_pacing
target=${CARGO_TARGET_DIR:-target}
bin=$target/release/conform
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
big=$tmp/big.pcapng

python3 - suites/dhcp/clients/dhclient.pcapng "$big" "$doras" <<'PY'
import struct, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
b = open(src, 'rb').read()
frames, i = [], 0
while i + 12 <= len(b):
    ty, ln = struct.unpack_from('<II', b, i)
    if ty == 6:
        cap = struct.unpack_from('<I', b, i + 20)[0]
        frames.append(bytearray(b[i + 28:i + 28 + cap]))
    i += ln
assert len(frames) == 4, len(frames)
old_mac = bytes(frames[0][6:12])
def block(ty, body):
    pad = (-len(body)) % 4
    ln = 12 + len(body) + pad
    return struct.pack('<II', ty, ln) + body + b'\0' * pad + struct.pack('<I', ln)
out = [block(0x0a0d0d0a, struct.pack('<IHHq', 0x1a2b3c4d, 1, 0, -1)), block(1, struct.pack('<HHI', 1, 0, 0))]
t = 1_700_000_000_000_000
for k in range(n):
    mac = bytes([0x02, 0xdd, (k >> 24) & 255, (k >> 16) & 255, (k >> 8) & 255, k & 255])
    xid = struct.pack('>I', 0x5000_0000 + k)
    for f in frames:
        f = bytearray(f)
        if bytes(f[6:12]) == old_mac: f[6:12] = mac
        if bytes(f[0:6]) == old_mac: f[0:6] = mac
        f[46:50] = xid            # DHCP xid (14 + 20 + 8 + 4)
        f[70:76] = mac            # chaddr
        f[40:42] = b'\0\0'        # UDP checksum: none
        t += 100
        out.append(block(6, struct.pack('<IIIII', 0, t >> 32, t & 0xffffffff, len(f), len(f)) + bytes(f)))
open(dst, 'wb').write(b''.join(out))
PY
packets=$((doras * 4))
echo "capture: $packets DHCP packets, $(du -h "$big" | cut -f1)"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
timeit() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N); echo "$e - $s" | bc; }

cases='^dora-(offer-from-pool|ack-confirms-offer|lease-time|rediscover-keeps-address)$'
check=$("$bin" run suites/examples/dora.yaml -k "$cases" --adapter "pcap:$big" 2>&1 | tail -1)
echo "offline check result: $check"
conform_s=$(for _ in $(seq "$runs"); do timeit "$bin" run suites/examples/dora.yaml -k "$cases" --adapter "pcap:$big"; done | median)
tshark_runs=$(( runs < 3 ? runs : 3 ))
tshark_s=$(for _ in $(seq "$tshark_runs"); do timeit tshark -r "$big" -Y dhcp; done | median)
printf 'offline check (conform run, 4 DORA cases, --adapter pcap): median %.3f s of %d runs\n' "$conform_s" "$runs"
printf 'tshark -r FILE -Y dhcp:                                    median %.3f s of %d runs\n' "$tshark_s" "$tshark_runs"
printf 'ratio tshark/conform: %.1fx (target >= 10x)\n' "$(echo "$tshark_s / $conform_s" | bc -l)"
s=$(date +%s.%N)
self_result=$("$bin" replay "$big" --adapter "pcap:$big" --out "$tmp/out" --seed 1 2>/dev/null | tail -1 || true)
e=$(date +%s.%N)
printf 'conform replay FILE --adapter pcap:FILE (%d cases, every exchange judged): %.2f s (%s)\n' "$doras" "$(echo "$e - $s" | bc)" "$self_result"

if [ "$(id -u)" = 0 ] && command -v dnsmasq >/dev/null; then
  for c in dhclient udhcpc; do
    "$target/release/examples/replay_pacing" "suites/dhcp/clients/$c.pcapng" 40 10
  done
else
  echo "SKIPPED: replay pacing needs root and dnsmasq"
fi
