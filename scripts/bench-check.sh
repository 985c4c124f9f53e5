#!/usr/bin/env bash
# Wall time of `conform check` on 1,000 generated cases (issue target: under 100 ms), printed
# with the ratio to a baseline measured in the same script: the process start of
# `conform --version` (what no amount of loader work can go below).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p conform
bin=target/release/conform
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
  cat <<'YAML'
protocol: dhcp
params:
  server_ip: { type: ipv4, default: 192.0.2.1 }
  pool_start: { type: ipv4, default: 192.0.2.100 }
  pool_end: { type: ipv4, default: 192.0.2.200 }
templates:
  offer:
    op: BOOTREPLY
    xid: $xid
    yiaddr: { range: [$pool_start, $pool_end] }
    option_codes: { superset: [53, 54, 51] }
    options:
      message_type: OFFER
      server_id: $server_ip
      lease_time: { range: 60..86400 }
cases:
YAML
  for i in $(seq 1 1000); do
    printf '  - id: gen-%d\n    spec: RFC 2131 §4.3.1\n    level: MUST\n    text: generated\n    steps:\n      - receive: { template: offer, capture: { ip: yiaddr } }\n      - log: "got $ip"\n' "$i"
  done
} > "$tmp/gen.yaml"

median_ms() { # command...
  local times=()
  for _ in $(seq 1 15); do
    local s e
    s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N)
    times+=($(( (e - s) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n 8p | awk '{printf "%.2f", $1/1000}'
}
base=$(median_ms "$bin" --version)
check=$(median_ms "$bin" check "$tmp/gen.yaml")
"$bin" check "$tmp/gen.yaml"
echo "conform --version (baseline): ${base} ms"
echo "conform check 1000 cases:     ${check} ms  (target < 100 ms)"
awk -v a="$check" -v b="$base" 'BEGIN { printf "ratio check/baseline: %.1fx\n", a/b; exit (a < 100 ? 0 : 1) }'
