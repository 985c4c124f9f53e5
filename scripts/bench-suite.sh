#!/usr/bin/env bash
# Full-suite wall time against the slowest single case (issue target: at most 2x), for each
# target given (default dnsmasq kea). Both numbers come from the same run's events: the run's
# duration and the longest case duration.
# Usage: scripts/bench-suite.sh [--jobs N] [--suites PATH] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=16 suites=suites/dhcp targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) jobs=$2; shift 2 ;;
    --suites) suites=$2; shift 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(dnsmasq kea)
cargo build -q --release -p conform
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for t in "${targets[@]}"; do
  target/release/conform run "$suites" --target "$t" --jobs "$jobs" --seed 1 --events "$tmp/$t.jsonl" --out "$tmp/out" >/dev/null 2>&1 || true
  python3 - "$tmp/$t.jsonl" "$t" "$jobs" <<'PY'
import json, sys
wall = slow = 0.0; slow_id = ""; n = 0
for line in open(sys.argv[1]):
    e = json.loads(line)["kind"]
    if e["type"] == "case_finished":
        n += 1
        if e["duration_ms"] > slow:
            slow, slow_id = e["duration_ms"], e["case"]
    if e["type"] == "run_finished":
        wall = e["duration_ms"]
print(f"{sys.argv[2]}: {n} cases, --jobs {sys.argv[3]}: suite wall {wall/1000:.2f} s, slowest case {slow/1000:.2f} s ({slow_id}), ratio {wall/slow if slow else 0:.2f}x (target <= 2x)")
PY
done
