#!/usr/bin/env bash
# The project's own CI gate for the live suites: every DHCP suite case against real servers,
# each started by conform in a lab of network namespaces. Fails on any verdict that differs
# from the recorded expectations (a pass, or a failure recorded as a known deviation in the
# target's profile with its reason). Artifacts (JUnit, events, server logs) go to conform-out/.
#
# Usage: ci/gate.sh [TARGET...]   (default: dnsmasq kea isc-dhcpd udhcpd)
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${CONFORM:-target/release/conform}
[ -x "$bin" ] || cargo build -q --release -p conform
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(dnsmasq kea isc-dhcpd udhcpd)
mkdir -p conform-out
"$bin" check suites/ || exit 2
status=0
for t in "${targets[@]}"; do
  echo "=== conform run suites/dhcp --target $t ==="
  "$bin" run suites/dhcp --target "$t" --jobs 4 --seed 1 \
    --junit "conform-out/junit-dhcp-$t.xml" --events "conform-out/events-dhcp-$t.jsonl"
  rc=$?
  echo "=== $t: exit $rc ==="
  [ $rc -eq 0 ] || status=$rc
done
exit $status
