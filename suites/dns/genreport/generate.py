#!/usr/bin/env python3
"""Generates suites/dns/genreport/*.yaml: a port of ISC genreport's EDNS, FULL, COMM and TYPE
tests (dns-requirements.md §1.3-§1.6). Run from the repository root:

    python3 suites/dns/genreport/generate.py

Each genreport test becomes one case `genreport-<test>` tagged with the test's name and group.
The first alt branch is genreport's "ok" (no failing tag would be added); the following
branches test genreport's failing conditions in the order its process() adds tags, and the
taken branch's reason is that first tag ("genreport: noopt"), so a run compares line by line
with genreport's first tag per test. Not ported: TC→TCP retry (no SOA answer is truncated), the
dnswkk and icmp tests of the NONE group.

Which zone: genreport runs every test against one zone. Its DNSSEC-dependent checks only mean
something on a signed zone (`nodo`/`nocd` need RRSIGs in the answer; `edns@512`/`ednstcp` need
a DNSKEY RRset over 512 bytes, dns-requirements.md §1.6), while the lab's main zone is unsigned
(dnsmasq cannot serve a signed one). So the four tests whose verdict depends on signatures,
`do`, `docd`, `edns@512` and `ednstcp`, ask for the module parameter `$signed_zone`
(signed.test., profiles/zones/signed.test.zone), every other test for `$zone`: on each zone a
test sees exactly what genreport would see when run against that zone.
"""
import os

ZONE = "$zone"
SIGNED = "$signed_zone"  # see the docstring: the DNSSEC-dependent tests
TESTS = []  # (name, group, dict)


def t(name, group, **kw):
    TESTS.append((name, group, kw))


# header-flag tests, no EDNS (group FULL except dns)
t("dns", "EDNS", dig="+noedns +noad +norec SOA <zone>")
t("aa", "FULL", flags={"aa": True}, dig="+noedns +noad +norec +aaflag SOA <zone>")
t("ad", "FULL", flags={"ad": True}, dig="+noedns +ad +norec SOA <zone>")
t("cd", "FULL", flags={"cd": True}, dig="+noedns +noad +norec +cd SOA <zone>")
t("ra", "FULL", flags={"ra": True}, dig="(no dig flag) RA set, +noedns +noad +norec SOA <zone>")
t("rd", "FULL", flags={"rd": True}, dig="+noedns +noad +rec SOA <zone>")
t("tc", "FULL", flags={"tc": True}, dig="(no dig flag) TC set, +noedns +noad +norec SOA <zone>")
t("zflag", "FULL", flags={"z": True}, dig="+noedns +noad +norec +zflag SOA <zone>")
t("opcode", "FULL", opcode=15, dig="+noedns +noad +norec +header-only +opcode=15")
t("opcodeflg", "FULL", opcode=15,
  flags={"tc": True, "rd": True, "ra": True, "cd": True, "ad": True, "aa": True, "z": True},
  dig="(no dig equivalent) opcode 15 with TC RD RA CD AD AA Z, header only")
t("type666", "FULL", qtype=666, dig="+noedns +noad +norec TYPE666 <zone>")
t("tcp", "FULL", tcp=True, dig="+noedns +noad +norec +tcp SOA <zone>")
# EDNS tests
E0 = dict(version=0, payload=4096)
t("edns", "EDNS", edns=dict(E0), dig="+edns=0 +nocookie +noad +norec SOA <zone>")
t("edns1", "EDNS", edns=dict(E0, version=1), dig="+edns=1 +noednsneg +nocookie +noad +norec SOA <zone>")
t("edns@512", "EDNS", edns=dict(E0, payload=512, do=True), qtype="DNSKEY", ignore_tc=True, zone=SIGNED,
  dig="+edns=0 +nocookie +noad +norec +dnssec +ignoretc +bufsize=512 DNSKEY <zone>")
t("ednsopt", "EDNS", edns=dict(E0, options=[100]), dig="+edns=0 +nocookie +noad +norec +ednsopt=100 SOA <zone>")
t("edns1opt", "EDNS", edns=dict(E0, version=1, options=[100]),
  dig="+edns=1 +noednsneg +nocookie +noad +norec +ednsopt=100 SOA <zone>")
t("do", "EDNS", edns=dict(E0, do=True), zone=SIGNED, dig="+edns=0 +nocookie +noad +norec +dnssec SOA <zone>")
t("docd", "FULL", edns=dict(E0, do=True), flags={"cd": True}, zone=SIGNED,
  dig="+edns=0 +nocookie +noad +norec +dnssec +cd SOA <zone>")
t("edns1do", "FULL", edns=dict(E0, version=1, do=True),
  dig="+edns=1 +noednsneg +nocookie +noad +norec +dnssec SOA <zone>")
t("ednsflags", "EDNS", edns=dict(E0, z=0x0080), dig="+edns=0 +nocookie +noad +norec +ednsflags=0x0080 SOA <zone>")
OPTLIST = {"nsid": "", "ecs": "0x00010000", "expire": "", "cookie": "0x0102030405060708"}
t("optlist", "EDNS", edns=dict(E0, opts=OPTLIST),
  dig="+edns=0 +noad +norec +nsid +subnet=0.0.0.0/0 +expire +cookie=0102030405060708 SOA <zone>")
for v, prefix in ((0, "edns"), (1, "edns1")):
    for opt, val, dig in (("nsid", "", "+nsid"), ("cookie", "0x0102030405060708", "+cookie=0102030405060708"),
                          ("expire", "", "+expire"), ("subnet", "0x00010000", "+subnet=0.0.0.0/0")):
        key = "ecs" if opt == "subnet" else opt
        vdig = "+edns=0" if v == 0 else "+edns=1 +noednsneg"
        t(prefix + opt, "FULL", edns=dict(E0, version=v, opts={key: val}),
          dig=f"{vdig} +noad +norec {dig} SOA <zone>")
t("ednstcp", "EDNS", tcp=True, edns=dict(E0, payload=512, do=True), qtype="DNSKEY", zone=SIGNED,
  dig="+edns=0 +nocookie +noad +norec +dnssec +bufsize=512 +tcp DNSKEY <zone>")
t("bind11", "COMM", edns=dict(E0, do=True, opts={"cookie": "0x0102030405060708"}),
  dig="+edns=0 +cookie=0102030405060708 +noad +norec +dnssec SOA <zone>")
t("dig11", "COMM", flags={"rd": True, "ad": True}, edns=dict(E0, opts={"cookie": "0x0102030405060708"}),
  dig="+edns=0 +cookie=0102030405060708 +ad +rec SOA <zone>")

TYPES = [("A", 1), ("NS", 2), ("MD", 3), ("MF", 4), ("CNAME", 5), ("SOA", 6), ("MB", 7), ("MG", 8),
         ("MR", 9), ("NULL", 10), ("WKS", 11), ("PTR", 12), ("HINFO", 13), ("MINFO", 14), ("MX", 15),
         ("TXT", 16), ("RP", 17), ("AFSDB", 18), ("X25", 19), ("ISDN", 20), ("RT", 21), ("NSAP", 22),
         ("NSAP-PTR", 23), ("SIG", 24), ("KEY", 25), ("PX", 26), ("GPOS", 27), ("AAAA", 28),
         ("LOC", 29), ("NXT", 30), ("SRV", 33), ("NAPTR", 35), ("KX", 36), ("CERT", 37), ("A6", 38),
         ("DNAME", 39), ("APL", 42), ("DS", 43), ("SSHFP", 44), ("IPSECKEY", 45), ("RRSIG", 46),
         ("NSEC", 47), ("DNSKEY", 48), ("DHCID", 49), ("NSEC3", 50), ("NSEC3PARAM", 51), ("TLSA", 52),
         ("SMIMEA", 53), ("HIP", 55), ("CDS", 59), ("CDNSKEY", 60), ("OPENPGPKEY", 61), ("SPF", 99),
         ("NID", 104), ("L32", 105), ("L64", 106), ("LP", 107), ("EUI48", 108), ("EUI64", 109),
         ("URI", 256), ("CAA", 257), ("AVC", 258), ("DOA", 259), ("DLV", 32769), ("TYPE1000", 1000)]

RCODE_TAGS = [("NOERROR", "noerror"), ("FORMERR", "formerr"), ("SERVFAIL", "servfail"), ("NXDOMAIN", "nxdomain"),
              ("NOTIMP", "notimp"), ("REFUSED", "refused"), ("BADVERS", "badvers"),
              ("BADCOOKIE", "badcookie")]


def yv(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return v


def fields(d):
    return "{ " + ", ".join(f"{k}: {yv(v)}" for k, v in d.items()) + " }"


def case(name, group, kw, qid, conn, type_test=False):
    flags = kw.get("flags", {})
    opcode = kw.get("opcode", 0)
    edns = kw.get("edns")
    version = edns["version"] if edns else 0
    qtype = kw.get("qtype", "SOA")
    soa_q = qtype == "SOA" and opcode == 0
    ignore_tc = kw.get("ignore_tc", False)
    cookie = bool(edns and "cookie" in edns.get("opts", {}))
    do = bool(edns and edns.get("do"))
    zone = kw.get("zone", ZONE)
    # ---- the query
    send = {"id": "0x%04x" % qid, "opcode": opcode}
    if opcode == 0:
        send["question.name"] = zone
        send["question.type"] = qtype
        send["question.class"] = "IN"
    for k, v in flags.items():
        send[k] = v
    if edns:
        send["edns.version"] = edns["version"]
        send["edns.payload"] = edns["payload"]
        if edns.get("do"):
            send["edns.do"] = True
        if edns.get("z"):
            send["edns.z"] = edns["z"]
        if edns.get("options"):
            send["edns.options"] = "[" + ", ".join(str(o) for o in edns["options"]) + "]"
        for k, v in edns.get("opts", {}).items():
            send[f"edns.option.{k}"] = f'"{v}"'
    if kw.get("tcp"):
        send["tcp.connection"] = conn
    else:
        send["transport"] = "udp"
    # ---- expectations (genreport's checks in process() order)
    exp_rc = "NOTIMP" if opcode else ("BADVERS" if version > 0 else "NOERROR")
    ok = {"opcode": opcode}
    ok["ext_rcode"] = "{ one_of: [NOERROR, BADCOOKIE] }" if (cookie and exp_rc == "NOERROR") else exp_rc
    fails = []  # (tag, fields)
    fails.append((f"opcode mismatch (genreport tags the response's opcode name)", {"opcode": "{ not: %d }" % opcode}))
    accepted = {exp_rc} | ({"BADCOOKIE"} if cookie and exp_rc == "NOERROR" else set())
    for rc, tag in RCODE_TAGS:
        if rc not in accepted:
            fails.append((tag, {"ext_rcode": rc}))
    fails.append(("rcodeN (another RCODE)", {"ext_rcode": "{ not: [%s] }" % ", ".join(sorted(accepted))}))
    if edns:
        ok["edns.present"] = "true"
        ok["edns.version"] = 0
        fails.append(("version-not-zero", {"edns.present": "true", "edns.version": "{ not: 0 }"}))
        fails.append(("noopt", {"edns.present": "false"}))
    else:
        ok["edns.present"] = "false"
        fails.append(("opt", {"edns.present": "true"}))
    if soa_q and version == 0 and not ignore_tc:
        ok["answer.types"] = "{ superset: [SOA] }"
        fails.append(("nosoa", {"answer.types": "{ not: { superset: [SOA] } }"}))
    if soa_q and version > 0:
        ok["answer.types"] = "{ not: { superset: [SOA] } }"
        fails.append(("soa", {"answer.types": "{ superset: [SOA] }"}))
    if edns:
        ok["edns.options"] = "{ not: { superset: [100] } }"
        fails.append(("echoed", {"edns.options": "{ superset: [100] }"}))
    # nodo / nocd: only when RRSIGs came back (genreport counts RRSIGs in the answer), so an
    # answer without signatures passes whatever its DO and CD bits say.
    sigs = "{ superset: [RRSIG] }"
    if do:
        fails.append(("nodo", {"edns.present": "true", "edns.do": "false", "answer.types": sigs}))
    if do and flags.get("cd"):
        fails.append(("nocd", {"edns.do": "true", "cd": "false", "answer.types": sigs}))
    if version == 0 and opcode == 0:
        ok["aa"] = "true"
        fails.append(("noaa", {"aa": "false"}))
    if opcode:
        ok["aa"] = "false"
        fails.append(("aa", {"aa": "true"}))
        ok["ra"] = "false"
        fails.append(("ra", {"ra": "true"}))
    if opcode or not flags.get("rd"):
        ok["rd"] = "false"
        fails.append(("rd", {"rd": "true"}))
    else:
        ok["rd"] = "true"
        fails.append(("nord", {"rd": "false"}))
    if opcode or not (flags.get("ad") or do):
        ok["ad"] = "false"
        fails.append(("ad", {"ad": "true"}))
    if opcode or not flags.get("cd"):
        ok["cd"] = "false"
        fails.append(("cd", {"cd": "true"}))
    ok["z"] = "false"
    fails.append(("z", {"z": "true"}))
    if edns:
        ok["edns.z"] = 0
        fails.append(("mbz", {"edns.present": "true", "edns.z": "{ not: 0 }"}))
    if ignore_tc:
        ok["size"] = '{ range: "..512" }'
        fails.append(("toobig", {"size": '{ range: "513.." }'}))
    if cookie:
        ok["edns.option.cookie"] = '{ pattern: "^0102030405060708", ifpresent: true }'
        fails.append(("cookie-mismatch", {"edns.option.cookie": '{ not: { pattern: "^0102030405060708" } }'}))
    if opcode:
        for sec, cnt in (("question", "qdcount"), ("answer", "ancount"), ("authority", "nscount"), ("additional", "arcount")):
            ok[cnt] = 0
            fails.append((f"non-empty-{sec}-section", {cnt: "{ not: 0 }"}))
    base = {"id": "0x%04x" % qid, "qr": "true"}
    # ---- YAML
    out = []
    okline = kw.get("okline", "")
    out.append(f"  - id: genreport-{name}")
    zname = "signed.test" if zone == SIGNED else "example.test"
    title = kw.get("title") or f"genreport `{name}`: {kw['dig'].replace('<zone>', zname)}"
    out.append(f"    title: \"{title}\"")
    out.append(f"    spec: {{ doc: ISC genreport, section: \"{name}\" }}")
    out.append("    level: INTEROP")
    out.append("    text: >-")
    out.append(f"      genreport test `{name}` (group {group}): dig {kw['dig']}. {OKTEXT.get(name, OKTEXT_TYPE)}")
    out.append(f"    tags: [genreport, {group}, \"{name}\"]")
    out.append("    steps:")
    out.append("      - start_timer: { name: answer, duration: 3s }")
    out.append(f"      - send: {{ with: {fields(send)} }}")
    out.append("      - alt:")
    # With DO the "ok" is two branches: signatures came back and DO (and, for docd, CD) was
    # echoed, or no signatures came back at all (then genreport never checks those bits).
    if do:
        signed_ok = dict(ok, **{"edns.do": "true"})
        if flags.get("cd"):
            signed_ok["cd"] = "true"
        unsigned_ok = dict(ok)
        if "answer.types" in ok:
            # both ok's own answer constraint and "no RRSIG": the answer types neither fail
            # ok's constraint nor contain an RRSIG
            unsigned_ok["answer.types"] = "{ not: [ { not: %s }, { superset: [RRSIG] } ] }" % ok["answer.types"]
        else:
            unsigned_ok["answer.types"] = "{ not: { superset: [RRSIG] } }"
        oks = [signed_ok, unsigned_ok]
    else:
        oks = [ok]
    for o in oks:
        out.append(f"          - receive: {{ with: {fields(dict(base, **o))} }}")
        out.append("            verdict: pass")
    for tag, f in fails:
        out.append(f"          - receive: {{ with: {fields(dict(base, **f))} }}")
        out.append("            verdict: fail")
        out.append(f"            reason: \"genreport: {tag}\"")
    out.append(f"          - receive: {{ with: {fields(base)} }}")
    out.append("            verdict: fail")
    out.append("            reason: \"genreport: a response no single genreport tag explains\"")
    out.append("          - timeout: answer")
    out.append("            verdict: fail")
    out.append("            reason: \"genreport: timeout\"")
    return "\n".join(out) + "\n"


# §1.5 "OK means", one line each
OKTEXT = {
    "dns": "OK: NOERROR, AA=1, no OPT, Z=0, RD not set, no AD/CD, the zone SOA in the answer.",
    "aa": "OK: as dns (the AA bit of the query is ignored).",
    "ad": "OK: as dns; AD may come back since it was asked.",
    "cd": "OK: as dns; CD may come back since it was set.",
    "ra": "OK: as dns (the RA bit of the query is ignored).",
    "rd": "OK: as dns, plus RD echoed.",
    "tc": "OK: as dns (the TC bit of the query is ignored).",
    "zflag": "OK: as dns, plus Z clear in the response.",
    "opcode": "OK: NOTIMP, opcode echoed as 15, all four sections empty, AA/RA/RD/AD/CD/Z clear, no OPT.",
    "opcodeflg": "OK: NOTIMP, opcode echoed as 15, all four sections empty, AA/RA/RD/AD/CD/Z clear, no OPT.",
    "type666": "OK: NOERROR (NODATA accepted), AA=1, no OPT, Z=0, RD/AD/CD clear.",
    "tcp": "OK: as dns, over TCP.",
    "edns": "OK: NOERROR, AA, zone SOA in answer, OPT v0, no flag other than DO, option 100 never echoed.",
    "edns1": "OK: BADVERS, OPT present with version 0, no SOA in the answer, option 100 not echoed.",
    "edns@512": "OK: NOERROR, OPT v0, AA, UDP response <= 512 bytes; TC=1 is acceptable (no TCP retry). Asked for the signed zone (signed.test.), whose DNSKEY RRset is over 512 bytes.",
    "ednsopt": "OK: as edns, and option 100 not echoed.",
    "edns1opt": "OK: BADVERS, OPT v0, no SOA in the answer, option 100 not echoed.",
    "do": "OK: as edns; DO echoed when RRSIGs are present. Asked for the signed zone (signed.test.).",
    "docd": "OK: as edns; DO and CD echoed when RRSIGs are present. Asked for the signed zone (signed.test.).",
    "edns1do": "OK: BADVERS, OPT v0, no SOA in the answer.",
    "ednsflags": "OK: as edns; the unknown flag 0x0080 not echoed (mbz).",
    "optlist": "OK: as edns; NOERROR or BADCOOKIE; any returned cookie starts with the client cookie 0102030405060708.",
    "ednstcp": "OK: over TCP: NOERROR, OPT v0, AA (no SOA check). Asked for the signed zone (signed.test.), whose DNSKEY RRset is over 512 bytes.",
    "bind11": "OK: as edns; NOERROR or BADCOOKIE; any returned cookie starts with 0102030405060708.",
    "dig11": "OK: as edns with RD echoed; NOERROR or BADCOOKIE; any returned cookie starts with 0102030405060708.",
}
for v in ("edns", "edns1"):
    for o in ("nsid", "cookie", "expire", "subnet"):
        n = v + o
        if v == "edns":
            OKTEXT[n] = "OK: as edns" + ("; NOERROR or BADCOOKIE; any returned cookie starts with 0102030405060708." if o == "cookie" else ".")
        else:
            OKTEXT[n] = "OK: BADVERS, OPT v0, no SOA in the answer, option 100 not echoed."
OKTEXT_TYPE = "OK: NOERROR (NODATA accepted), AA=1, no OPT, Z=0, RD/AD/CD clear."

HEADER = """# yaml-language-server: $schema=../../../schemas/suite.schema.json
#
# GENERATED by suites/dns/genreport/generate.py -- edit the generator, not this file.
#
# {what}
# A port of ISC genreport (DNS Compliance Testing, dns-requirements.md §1): the same queries
# (QNAME = the zone, QCLASS IN, RD clear unless the test sets it, EDNS payload 4096) and the
# same verdict logic. The first branch is genreport's "ok"; each following branch is one of
# genreport's failing tags, in the order process() adds them, so a failed case's reason is
# genreport's first tag for that test. Case ids are `genreport-<test>`, tags are the test
# name and its group (EDNS, FULL, COMM, TYPE). The zone is $zone (example.test.), except for
# the DNSSEC-dependent tests do, docd, edns@512 and ednstcp, which ask for $signed_zone
# (signed.test., DNSSEC-signed, DNSKEY RRset over 512 bytes; see generate.py's docstring).
suite: {suite}
protocol: dns
description: {desc}
imports: [../lib/common.yaml]

cases:
"""

here = os.path.dirname(os.path.abspath(__file__))
qid, conn = 0x6000, 6000
body = ""
for name, group, kw in TESTS:
    body += case(name, group, kw, qid, conn) + "\n"
    qid += 1
    conn += 1
open(os.path.join(here, "edns.yaml"), "w").write(
    HEADER.format(what="The EDNS, FULL and COMM groups.", suite="genreport-edns",
                  desc="ISC genreport EDNS/FULL/COMM tests.") + body)
body = ""
qid = 0x6100
for tname, num in TYPES:
    kw = dict(qtype=num, dig=f"+noedns +noad +norec {tname} <zone>",
              title=f"genreport `{tname}`: +noedns +noad +norec {tname} example.test")
    c = case(tname, "TYPE", kw, qid, conn, type_test=True)
    body += c + "\n"
    qid += 1
open(os.path.join(here, "types.yaml"), "w").write(
    HEADER.format(what="The TYPE group (genreport -t).", suite="genreport-types",
                  desc="ISC genreport TYPE tests.") + body)
