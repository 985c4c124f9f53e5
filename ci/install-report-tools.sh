#!/bin/sh
# Installs what conform's report tests need: Debian's chromium (headless: the HTML report is
# rendered, its DOM dumped and a screenshot taken, reports/tests/html.rs) and libxml2-utils
# (xmllint: the JUnit output is validated against reports/tests/data/junit.xsd,
# reports/tests/junit_xsd.rs). Without them those tests print a SKIPPED line and pass.
#
# Idempotent: packages already installed are skipped, and apt-get update runs only when
# something is missing. No service is involved.
#
# Usage: sudo ci/install-report-tools.sh
set -eu

if [ "$(id -u)" != 0 ]; then
    echo "install-report-tools.sh: must run as root (apt-get install)" >&2
    exit 1
fi

# fonts-dejavu-core: a known monospace font for the charts' labels in screenshots.
packages="chromium libxml2-utils fonts-dejavu-core"

missing=""
for p in $packages; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    echo "install-report-tools.sh: installing$missing"
    apt-get update -q
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    apt-get install -y -q --no-install-recommends $missing
else
    echo "install-report-tools.sh: all packages already installed"
fi

for b in chromium xmllint; do
    path=$(command -v "$b" || true)
    printf '  %-10s %s\n' "$b" "${path:-MISSING}"
done
