#!/bin/sh
# Removes conform lab namespaces left behind by a conform process that was killed before it
# could clean up (SIGKILL, OOM, a CI timeout). A lab namespace is named cf<PID>-<id><suffix>
# (see lab/src/lab.rs); it is stale when process <PID> no longer exists. Processes still running
# inside a stale namespace (a server conform started) are killed by PID, then the namespace is
# deleted, which removes its veth, tap and bridge. Namespaces of live conform processes and all
# other namespaces are left alone.
#
# Usage: sudo ci/lab-cleanup.sh [--dry-run]
set -eu

dry=0
[ "${1:-}" = "--dry-run" ] && dry=1

ip netns list 2>/dev/null | while read -r ns _rest; do
    case "$ns" in
        cf[0-9]*-*) ;;
        *) continue ;;
    esac
    owner=${ns#cf}
    owner=${owner%%-*}
    case "$owner" in
        ''|*[!0-9]*) continue ;;
    esac
    if [ -d "/proc/$owner" ]; then
        continue
    fi
    echo "lab-cleanup: removing stale namespace $ns (creator $owner is gone)"
    [ "$dry" = 1 ] && continue
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
        kill -KILL "$pid" 2>/dev/null || true
    done
    ip netns del "$ns" || true
done
