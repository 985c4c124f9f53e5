# Sourced by ci/capture-clients.sh and ci/capture-dns.sh: a throwaway pair of network
# namespaces for capturing real clients against a real server, removed on exit (also on
# failure and Ctrl-C). Call `netns_pair PREFIX NAME`; it sets
#   srv, cli  the namespaces PREFIX$$-s and PREFIX$$-c, each with eth0 (a veth pair) and lo up;
#             the server's eth0 is 02:00:00:00:01:01, 192.0.2.1/24, up (the client's is down
#             and address-less: each script configures it as its clients need);
#   tmp       a scratch directory (kept when KEEP is set);
#   pids      an array: PIDs appended to it are ended (TERM, then KILL) by the cleanup.
# NAME is the script's name for messages.
netns_pair() {
  local id=$1$$
  _netns_name=$2
  srv=$id-s cli=$id-c
  tmp=$(mktemp -d)
  pids=()
  trap _netns_cleanup EXIT
  ip netns add "$srv"
  ip netns add "$cli"
  ip link add "$id-sv" type veth peer name "$id-cv"
  ip link set "$id-sv" netns "$srv"
  ip link set "$id-cv" netns "$cli"
  ip -n "$srv" link set "$id-sv" name eth0
  ip -n "$cli" link set "$id-cv" name eth0
  ip -n "$srv" link set lo up
  ip -n "$cli" link set lo up
  ip -n "$srv" link set eth0 address 02:00:00:00:01:01
  ip -n "$srv" addr add 192.0.2.1/24 dev eth0
  ip -n "$srv" link set eth0 up
}

_netns_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.2
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  ip netns del "$srv" 2>/dev/null || true
  ip netns del "$cli" 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "$_netns_name: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
