#!/usr/bin/python3
"""The scapy baseline of scripts/bench-fuzz.sh: the same fuzz cases and the same exchange per
case as `conform fuzz dhcp` (case, canary DISCOVER/OFFER, REQUEST/ACK, RELEASE, a RELEASE for
every address the case itself was given), through scapy (python3-scapy from Debian).

Written the way a careful scapy user would: one persistent L2 socket (not srp() per packet,
which opens a socket and a sniffer each time), frames built with scapy layers, replies
dissected by scapy and matched by xid and message type.

Usage (inside the client namespace of a lab): bench-fuzz-scapy.py IFACE CASES_FILE [N]
Prints: cases, seconds, cases/s, replies to cases, canary failures.
"""
import select
import sys
import time

from scapy.all import BOOTP, DHCP, IP, UDP, Ether, Raw, conf, get_if_hwaddr

SERVER_IP = "192.0.2.1"
TIMEOUT = 1.0


def mac_bytes(m):
    return bytes(int(x, 16) for x in m.split(":"))


def options_of(payload, code):
    """Data of the complete instances of `code` in the options field (TLV walk)."""
    out, i = [], 240
    if payload[236:240] != b"\x63\x82\x53\x63":
        return out
    while i < len(payload):
        c = payload[i]
        if c == 0:
            i += 1
            continue
        if c == 255 or i + 1 >= len(payload):
            break
        n = payload[i + 1]
        if i + 2 + n > len(payload):
            break
        if c == code:
            out.append(payload[i + 2:i + 2 + n])
        i += 2 + n
    return out


def main():
    iface, path = sys.argv[1], sys.argv[2]
    limit = int(sys.argv[3]) if len(sys.argv) > 3 else None
    conf.verb = 0
    my_mac = get_if_hwaddr(iface)
    lines = open(path).read().split("\n")
    lines = [l for l in lines if l.strip()][:limit]
    s = conf.L2socket(iface=iface)

    server = bytes([192, 0, 2, 1])

    def recv_until(deadline, want, case_xid, sink):
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([s], [], [], left)
            if not r:
                return None
            # Only frames from the server are dissected (as a BPF filter would select them):
            # the socket also sees our own outgoing frames, and scapy 2.5's DHCP dissector
            # loops forever on some fuzzed option fields (option 121 with a prefix length
            # above 32, as in case 3732 of seed 7).
            raw = s.recv_raw()[1]
            if not raw or raw[26:30] != server:
                continue
            p = Ether(raw)
            if BOOTP not in p or p[BOOTP].op != 2:
                continue
            if p[BOOTP].xid == case_xid:
                sink.append(p)
                continue
            if want(p):
                return p

    def mtype(p):
        if DHCP not in p:
            return None
        for o in p[DHCP].options:
            if isinstance(o, tuple) and o[0] == "message-type":
                return o[1]
        return None

    def canary_msg(mac, xid, t, addr=None):
        opts = [("message-type", t)]
        ciaddr = "0.0.0.0"
        flags = 0x8000
        if t == "request":
            opts += [("server_id", SERVER_IP), ("requested_addr", addr)]
        if t == "release":
            opts += [("server_id", SERVER_IP)]
            ciaddr, flags = addr, 0
        else:
            opts += [("param_req_list", [1, 3, 6, 15, 51])]
        opts.append("end")
        pkt = (Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255")
               / UDP(sport=68, dport=67)
               / BOOTP(op=1, xid=xid, flags=flags, ciaddr=ciaddr, chaddr=mac_bytes(mac) + b"\0" * 10)
               / DHCP(options=opts))
        pad = 300 - len(pkt[BOOTP])
        if pad > 0:
            pkt = pkt / Raw(b"\0" * pad)
        return pkt

    replies = 0
    failures = 0
    t0 = time.monotonic()
    for i, line in enumerate(lines):
        esrc, edst, isrc, idst, sport, dport, payload = line.split()
        payload = bytes.fromhex(payload)
        frame = (Ether(src=my_mac if esrc == "-" else esrc, dst=edst) / IP(src=isrc, dst=idst)
                 / UDP(sport=int(sport), dport=int(dport)) / Raw(payload))
        case_xid = int.from_bytes(payload[4:8], "big") if len(payload) >= 8 else -1
        s.send(frame)
        sink = []
        n = i + 1
        mac = "02:cf:cb:%02x:%02x:%02x" % ((n >> 16) & 255, (n >> 8) & 255, n & 255)
        xid = 0x70000000 + n
        s.send(canary_msg(mac, xid, "discover"))
        offer = recv_until(time.monotonic() + TIMEOUT,
                           lambda p: p[BOOTP].xid == xid and mtype(p) == 2, case_xid, sink)
        if offer is None:
            failures += 1
            continue
        addr = offer[BOOTP].yiaddr
        s.send(canary_msg(mac, xid, "request", addr))
        ack = recv_until(time.monotonic() + TIMEOUT,
                         lambda p: p[BOOTP].xid == xid and mtype(p) == 5, case_xid, sink)
        if ack is None:
            failures += 1
            continue
        s.send(canary_msg(mac, xid, "release", addr))
        replies += len(sink)
        # Leave the pool as it was: release what the case was given (same client identity).
        for p in sink:
            if mtype(p) == 5 and p[BOOTP].yiaddr.startswith("192.0.2.") and p[BOOTP].yiaddr != SERVER_IP:
                opts = [("message-type", "release"), ("server_id", SERVER_IP)]
                # The request's option 61 instances, read from its bytes: dissecting the
                # fuzzed request with scapy can loop forever (see recv_until).
                opts += [("client_id", d) for d in options_of(payload, 61)]
                opts.append("end")
                rel = (Ether(src=frame.src, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255")
                       / UDP(sport=68, dport=67)
                       / BOOTP(op=1, xid=xid + 1, ciaddr=p[BOOTP].yiaddr, chaddr=payload[28:44])
                       / DHCP(options=opts))
                s.send(rel)
    dt = time.monotonic() - t0
    s.close()
    print("cases %d seconds %.3f rate %.1f replies %d canary_failures %d" % (len(lines), dt, len(lines) / dt, replies, failures))


if __name__ == "__main__":
    main()
