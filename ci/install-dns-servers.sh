#!/bin/sh
# Installs the six DNS servers conform's DNS profiles run (profiles/{unbound,nsd,knot,bind9,pdns,
# dnsmasq-dns}.yaml) plus dig/kdig for manual cross-checks.
#
# Idempotent: packages already installed are skipped, and apt-get update runs only when
# something is missing. No daemon is started on the host: a policy-rc.d that forbids service
# starts is put in place before installing (lab.md 1.2), and any of these services found running
# afterwards is stopped through its own init system (never by killing processes by name).
# The lab starts each server itself, in the foreground, inside its own network namespace.
#
# Usage: sudo ci/install-dns-servers.sh
set -eu

if [ "$(id -u)" != 0 ]; then
    echo "install-dns-servers.sh: must run as root (apt-get install)" >&2
    exit 1
fi

# bind9-utils: dnssec-signzone and dnssec-dsfromkey for ci/sign-zone.sh (regenerating the signed
# lab zones; bind9 depends on it anyway). pdnsutil (pdns-server) creates the bind backend's
# DNSSEC database at lab start (profiles/pdns.yaml).
packages="unbound nsd knot bind9 bind9-utils pdns-server pdns-backend-bind dnsmasq-base dnsutils knot-dnsutils iproute2"

# 1. Forbid package scripts to start services (they would listen in the ROOT namespace).
policy=/usr/sbin/policy-rc.d
if [ ! -x "$policy" ]; then
    printf '#!/bin/sh\n# installed by conform ci/install-dns-servers.sh: never start services on install\nexit 101\n' > "$policy"
    chmod 0755 "$policy"
    echo "install-dns-servers.sh: created $policy (exit 101)"
fi

# 2. Install what is missing.
missing=""
for p in $packages; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    echo "install-dns-servers.sh: installing$missing"
    apt-get update -q
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    apt-get install -y -q --no-install-recommends $missing
else
    echo "install-dns-servers.sh: all packages already installed"
fi

# 3. Belt and braces: stop (and on systemd hosts disable) the packaged services if anything
#    started them, so no DNS server listens outside the lab namespaces.
services="unbound nsd knot named bind9 pdns"
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    for s in $services; do
        if systemctl list-unit-files "$s.service" >/dev/null 2>&1; then
            systemctl disable --now "$s.service" >/dev/null 2>&1 || true
        fi
    done
else
    # Look at the PID files the packaged services write; the lab's servers write theirs in
    # their run directories.
    for entry in unbound:/run/unbound.pid nsd:/run/nsd/nsd.pid knot:/run/knot/knot.pid \
                 named:/run/named/named.pid pdns:/run/pdns/pdns.pid; do
        s=${entry%%:*}
        pidfile=${entry#*:}
        if [ -x "/etc/init.d/$s" ] && [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            echo "install-dns-servers.sh: stopping $s, started by its package"
            "/etc/init.d/$s" stop || true
        fi
    done
fi

# 4. Report what the live runs will find.
for b in unbound nsd knotd named pdns_server dnsmasq dig kdig ip; do
    path=$(PATH="$PATH:/usr/sbin:/sbin" command -v "$b" || true)
    printf '  %-12s %s\n' "$b" "${path:-MISSING}"
done
