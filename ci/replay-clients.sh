#!/usr/bin/env bash
# The real-client gate: replays every capture of suites/dhcp/clients/ (one DORA of a real DHCP
# client each, made by ci/capture-clients.sh) against every DHCP target, so a server change that
# breaks one real client fails. Each replay is judged by the replay rules of docs/pcap.md and
# writes JUnit, run events and annotated pcapng into the output directory.
#
# Usage: ci/replay-clients.sh [--clients DIR] [--out DIR] [TARGET...]
#   Defaults: --clients suites/dhcp/clients, --out conform-out/clients,
#   TARGET dnsmasq kea isc-dhcpd udhcpd.
# Environment: CONFORM=path/to/conform (default target/release/conform, built if missing).
# Exit: 0 when every capture passed against every target; otherwise the worst conform exit
# code (1 fail, 2 usage or unreadable capture, 3 harness).
set -uo pipefail
cd "$(dirname "$0")/.."
clients=suites/dhcp/clients out=conform-out/clients targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --clients) clients=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) echo "replay-clients.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(dnsmasq kea isc-dhcpd udhcpd)
bin=${CONFORM:-target/release/conform}
[ -x "$bin" ] || cargo build -q --release -p conform || exit 3
mkdir -p "$out"
shopt -s nullglob
captures=("$clients"/*.pcapng "$clients"/*.pcap)
[ ${#captures[@]} -gt 0 ] || { echo "replay-clients.sh: no captures in $clients" >&2; exit 2; }
status=0 passed=0 failed=0
for t in "${targets[@]}"; do
  tname=$(basename "$t" .yaml)
  for c in "${captures[@]}"; do
    cname=$(basename "${c%.*}")
    echo "=== conform replay $c --target $t ==="
    "$bin" replay "$c" --target "$t" --seed 1 --out "$out" \
      --junit "$out/junit-$cname-$tname.xml" --events "$out/events-$cname-$tname.jsonl" \
      --pcap "$out/$cname-$tname.pcapng"
    rc=$?
    echo "=== $cname vs $tname: exit $rc ==="
    if [ $rc -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    [ $rc -gt $status ] && status=$rc
  done
done
echo "replay-clients: ${#captures[@]} client capture(s) x ${#targets[@]} target(s)"
echo "$passed passed, $failed failed"
exit $status
