#!/bin/sh
# Installs what conform's live lab tests need: the four DHCPv4 servers (dnsmasq, Kea, ISC dhcpd,
# busybox udhcpd), iproute2 and tcpdump; tshark too with --with-tshark.
#
# Idempotent: packages already installed are skipped, and apt-get update runs only when
# something is missing. No daemon is started on the host: a policy-rc.d that forbids service
# starts is put in place before installing (lab.md 1.2), and any of these services found running
# afterwards is stopped through its own init system (never by killing processes by name).
# The lab starts each server itself, in the foreground, inside its own network namespace.
#
# Usage: sudo ci/install-servers.sh [--with-tshark]
set -eu

if [ "$(id -u)" != 0 ]; then
    echo "install-servers.sh: must run as root (apt-get install)" >&2
    exit 1
fi

packages="dnsmasq-base kea-dhcp4-server isc-dhcp-server udhcpd busybox iproute2 tcpdump"
for arg in "$@"; do
    case "$arg" in
        --with-tshark) packages="$packages tshark" ;;
        *) echo "install-servers.sh: unknown argument $arg" >&2; exit 2 ;;
    esac
done

# 1. Forbid package scripts to start services. Debian's maintainer scripts would otherwise start
#    kea-dhcp4-server / isc-dhcp-server in the ROOT namespace, on the host's interfaces.
policy=/usr/sbin/policy-rc.d
if [ ! -x "$policy" ]; then
    printf '#!/bin/sh\n# installed by conform ci/install-servers.sh: never start services on install\nexit 101\n' > "$policy"
    chmod 0755 "$policy"
    echo "install-servers.sh: created $policy (exit 101)"
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
    echo "install-servers.sh: installing$missing"
    apt-get update -q
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    apt-get install -y -q --no-install-recommends $missing
else
    echo "install-servers.sh: all packages already installed"
fi

# 3. Belt and braces: stop (and on systemd hosts disable) the packaged services if anything
#    started them, so no DHCP server listens outside the lab namespaces.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    for s in kea-dhcp4-server isc-dhcp-server dnsmasq udhcpd; do
        if systemctl list-unit-files "$s.service" >/dev/null 2>&1; then
            systemctl disable --now "$s.service" >/dev/null 2>&1 || true
        fi
    done
else
    # The init scripts' "status" says 0 even when a service is disabled, so look at the PID
    # files the packaged services write instead; the lab's own servers write theirs elsewhere.
    for entry in kea-dhcp4-server:/run/kea/kea-dhcp4.kea-dhcp4.pid isc-dhcp-server:/run/dhcpd.pid \
                 dnsmasq:/run/dnsmasq/dnsmasq.pid udhcpd:/run/udhcpd.pid; do
        s=${entry%%:*}
        pidfile=${entry#*:}
        if [ -x "/etc/init.d/$s" ] && [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            echo "install-servers.sh: stopping $s, started by its package"
            "/etc/init.d/$s" stop || true
        fi
    done
fi

# 4. Report what the live tests will find.
for b in dnsmasq kea-dhcp4 dhcpd busybox ip tcpdump; do
    path=$(PATH="$PATH:/usr/sbin:/sbin" command -v "$b" || true)
    printf '  %-10s %s\n' "$b" "${path:-MISSING}"
done
