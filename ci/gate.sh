#!/usr/bin/env bash
# The conform CI gate, shared by this project's .ci/run and the recipes in ci/github and
# ci/gitlab that DHCP/DNS server projects copy. For each target: run the suites in a lab conform
# builds (network namespaces, the server started from the target profile), write JUnit, run
# events, an HTML report and annotated pcapng into the output directory, and fail on any verdict
# that differs from the recorded expectations: the target profile's known deviations, or an
# expected-results baseline when --baseline is given.
#
# Usage: ci/gate.sh [--suites PATH]... [--baseline FILE] [--out DIR] [--jobs N] [--partition K/N] TARGET...
#   TARGET is a built-in profile name (dnsmasq, kea, isc-dhcpd, udhcpd, ...) or a profile file.
#   Defaults: --suites suites/dhcp, --out conform-out, --jobs 8, TARGET dnsmasq kea isc-dhcpd udhcpd.
# Environment: CONFORM=path/to/conform (default target/release/conform, built if missing).
# Exit: 0 all targets as expected; otherwise the worst conform exit code (1 fail, 2 usage, 3 harness).
set -uo pipefail
cd "$(dirname "$0")/.."
suites=() baseline="" out=conform-out jobs=8 partition="" targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --suites) suites+=("$2"); shift 2 ;;
    --baseline) baseline=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --partition) partition=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "gate.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#suites[@]} -gt 0 ] || suites=(suites/dhcp)
[ ${#targets[@]} -gt 0 ] || targets=(dnsmasq kea isc-dhcpd udhcpd)
bin=${CONFORM:-target/release/conform}
[ -x "$bin" ] || cargo build -q --release -p conform || exit 3
mkdir -p "$out"
"$bin" check "${suites[@]}" || exit 2
extra=()
[ -n "$baseline" ] && extra+=(--baseline "$baseline")
[ -n "$partition" ] && extra+=(--partition "$partition")
"$bin" run --help | grep -q -- '--html' && html=1 || html=0
status=0
for t in "${targets[@]}"; do
  name=$(basename "$t" .yaml)
  echo "=== conform run ${suites[*]} --target $t ==="
  reports=(--junit "$out/junit-$name.xml" --events "$out/events-$name.jsonl" --pcap "$out/$name.pcapng")
  [ $html = 1 ] && reports+=(--html "$out/report-$name.html")
  "$bin" run "${suites[@]}" --target "$t" --jobs "$jobs" --seed 1 --out "$out" "${reports[@]}" "${extra[@]}"
  rc=$?
  echo "=== $t: exit $rc ==="
  [ $rc -gt $status ] && status=$rc
done
exit $status
