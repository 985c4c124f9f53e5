//! DNS captures: `conform import`, `conform replay` and `--adapter pcap:FILE` on the DNS corpus
//! (suites/dns/captures, made by ci/capture-dns.sh) and on crafted bad captures. The live test
//! replays the corpus against NSD in a lab when it can (root, nsd), and says SKIPPED otherwise.

use conform_adapters::pcap_replay::{read_trace, rules_for, Role};
use conform_codec::value::hex;

mod support;
use support::{assert_capture_rejected, conform, have, is_root, text, workspace};

fn tmp(name: &str) -> support::TmpDir {
    support::tmp("replay-dns", name)
}

const DIG: &str = "suites/dns/captures/dig.pcapng";
const KDIG: &str = "suites/dns/captures/kdig.pcap";
const RECORDED: &str = "suites/dns/captures/conform-nsd.pcapng";

/// The captured queries of a corpus file (UDP payloads), in file order.
fn queries(file: &str) -> Vec<Vec<u8>> {
    let rules = rules_for("dns").unwrap();
    let t = read_trace(&workspace().join(file), &rules.filter()).unwrap();
    t.packets
        .iter()
        .filter(|p| {
            let c = rules
                .classify(
                    &p.datagram.payload,
                    conform_adapters::pcap_replay::Ends::of(&p.datagram),
                )
                .unwrap();
            c.role == Role::Request
        })
        .map(|p| p.datagram.payload.clone())
        .collect()
}

#[test]
fn import_writes_loadable_dns_suites() {
    let d = tmp("import");
    for (file, n) in [(DIG, 15), (KDIG, 7)] {
        assert_eq!(queries(file).len(), n, "{file}: UDP queries in the corpus");
        let out = d.join("x.yaml");
        let o = conform(&["import", file, "-o", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{file}: {}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains(&format!("{n} case(s) from {n} dns request(s)")),
            "{}",
            text(&o.stderr)
        );
        let y = std::fs::read_to_string(&out).unwrap();
        assert!(y.contains("protocol: dns"), "{y}");
        assert_eq!(y.matches("            id: $id").count(), 2 * n, "{y}");
        assert!(y.contains("tags: [replay]"), "{y}");
        let check = conform(&["check", out.to_str().unwrap()]);
        assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
        assert!(
            text(&check.stdout).contains(&format!("{n} case(s)")),
            "{}",
            text(&check.stdout)
        );
    }
    let out = d.join("dig.yaml");
    let o = conform(&["import", DIG, "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let y = std::fs::read_to_string(&out).unwrap();
    // Queries as captured: dig's RD and AD, +dnssec +cd, +noedns, EDNS version 1.
    for want in [
        "rd: true",
        "ad: true",
        "edns.do: true",
        "cd: true",
        "edns.version: 1",
        "question.name: \"multi.example.test.\"",
        "question.type: AAAA",
    ] {
        assert!(y.contains(want), "`{want}` in {y}");
    }
    // A client cookie of 8 bytes only.
    for l in y.lines().filter(|l| l.contains("edns.option.cookie")) {
        assert_eq!(
            l.trim().len(),
            "edns.option.cookie: \"0x\"".len() + 16,
            "{l}"
        );
    }
    // Responses under the rules: RCODEs as captured, TTLs as wildcards, records in any order,
    // RA and AD not compared, authority/additional of positive answers as a subset.
    for want in [
        "ext_rcode: NXDOMAIN",
        "ext_rcode: REFUSED",
        "ext_rcode: BADVERS",
        "answer.ttls: [\"?\"]",
        "answer.rdata: { permutation: [\"192.0.2.11\", \"192.0.2.12\", \"192.0.2.13\"] }",
        "answer.ttls: [\"?\", \"?\", \"?\"]",
        "additional.rdata: { subset: [",
        "authority.types: [SOA]",
        "edns.present: false",
    ] {
        assert!(y.contains(want), "`{want}` in {y}");
    }
    assert!(!y.contains("ra: "), "RA is not compared: {y}");
    assert!(!y.contains("ttl:"), "{y}");
}

/// The hex of every sent payload after its id, from an events file.
fn sent_after_id(events: &str) -> Vec<String> {
    events
        .lines()
        .filter(|l| l.contains("\"type\":\"sent\""))
        .filter_map(|l| {
            let at = l.find("\"payload\":\"")? + "\"payload\":\"".len();
            let h = &l[at..];
            let h = &h[..h.find('"')?];
            Some(h.get(4..)?.to_string())
        })
        .collect()
}

#[test]
fn offline_replay_sends_the_captured_queries_and_passes() {
    let d = tmp("offline");
    for file in [DIG, KDIG] {
        let ev = d.join("ev.jsonl");
        let junit = d.join("junit.xml");
        let o = conform(&[
            "replay",
            file,
            "--adapter",
            &format!("pcap:{file}"),
            "--out",
            d.to_str().unwrap(),
            "--events",
            ev.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{file}: {}{}",
            text(&o.stdout),
            text(&o.stderr)
        );
        let events = std::fs::read_to_string(&ev).unwrap();
        // Every captured query goes out byte for byte but for its id (and a COOKIE's server
        // part, which dig and kdig did not send here: their first query has none).
        let sent = sent_after_id(&events);
        let captured: Vec<String> = queries(file).iter().map(|q| hex(&q[2..])).collect();
        assert_eq!(sent.len(), captured.len(), "{events}");
        for c in &captured {
            assert!(
                sent.contains(c),
                "captured query {c} not sent as captured: {sent:?}"
            );
        }
        let j = std::fs::read_to_string(&junit).unwrap();
        assert!(j.contains("failures=\"0\""), "{j}");
    }
}

/// Replaces every occurrence of `from` in `bytes` by `to` (same length).
fn patch(bytes: &[u8], from: &[u8], to: &[u8]) -> (Vec<u8>, usize) {
    assert_eq!(from.len(), to.len());
    let mut b = bytes.to_vec();
    let mut n = 0;
    let mut i = 0;
    while i + from.len() <= b.len() {
        if &b[i..i + from.len()] == from {
            b[i..i + from.len()].copy_from_slice(to);
            n += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    (b, n)
}

#[test]
fn replay_judges_records_but_not_ttls() {
    let d = tmp("differs");
    let orig = std::fs::read(workspace().join(DIG)).unwrap();
    // www.example.test. A 192.0.2.80 with TTL 300, as NSD sent it: type A, class IN, TTL,
    // RDLENGTH 4, the address.
    let rr = [0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 80];
    let mut longer = rr;
    longer[6..8].copy_from_slice(&3600u16.to_be_bytes());
    let mut other = rr;
    other[13] = 81;
    for (name, to, code, want) in [
        ("ttl.pcapng", longer, 0, ""),
        (
            "rdata.pcapng",
            other,
            1,
            "answer.rdata: expected [\"192.0.2.80\"], actual [\"192.0.2.81\"]",
        ),
    ] {
        let (b, n) = patch(&orig, &rr, &to);
        assert!(n >= 2, "{name}: the record is in the capture ({n})");
        let trace = d.join(name);
        std::fs::write(&trace, b).unwrap();
        let o = conform(&[
            "replay",
            DIG,
            "--adapter",
            &format!("pcap:{}", trace.display()),
            "--out",
            d.to_str().unwrap(),
        ]);
        let out = format!("{}{}", text(&o.stdout), text(&o.stderr));
        assert_eq!(o.status.code(), Some(code), "{name}: {out}");
        assert!(out.contains(want), "{name}: `{want}` in {out}");
    }
}

#[test]
fn offline_check_of_dns_suites_against_a_recorded_run() {
    let d = tmp("check");
    let o = conform(&[
        "run",
        "suites/dns/rfc1034",
        "suites/dns/rfc1035",
        "suites/dns/rfc2308",
        "--adapter",
        &format!("pcap:{RECORDED}"),
        "--out",
        d.to_str().unwrap(),
    ]);
    let out = format!("{}{}", text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("20 passed, 0 failed"), "{out}");
    // A DHCP capture cannot answer DNS suites.
    let o = conform(&[
        "run",
        "suites/dns/rfc1035",
        "--adapter",
        "pcap:suites/dhcp/clients/dhclient.pcapng",
        "--out",
        d.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains(
            "suites/dhcp/clients/dhclient.pcapng: no DNS packets in the capture (4 packet(s), none UDP on port 53)"
        ),
        "{}",
        text(&o.stderr)
    );
}

/// The records of a little-endian classic pcap file: (header, frames).
fn pcap_records(b: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut out = Vec::new();
    let mut i = 24;
    while i + 16 <= b.len() {
        let cap = u32::from_le_bytes(b[i + 8..i + 12].try_into().unwrap()) as usize;
        out.push(b[i + 16..i + 16 + cap].to_vec());
        i += 16 + cap;
    }
    (b[..24].to_vec(), out)
}

fn pcap_with(header: &[u8], frames: &[(Vec<u8>, u32)]) -> Vec<u8> {
    let mut b = header.to_vec();
    for (f, orig) in frames {
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&(f.len() as u32).to_le_bytes());
        b.extend_from_slice(&orig.to_le_bytes());
        b.extend_from_slice(f);
    }
    b
}

#[test]
fn bad_dns_captures_name_file_and_packet() {
    let d = tmp("bad");
    let kdig = std::fs::read(workspace().join(KDIG)).unwrap();
    let (header, frames) = pcap_records(&kdig);
    assert_eq!(frames.len(), 14);
    assert_eq!(u32::from_le_bytes(header[20..24].try_into().unwrap()), 276);
    let full: Vec<(Vec<u8>, u32)> = frames.iter().map(|f| (f.clone(), f.len() as u32)).collect();
    // SLL2 (20 bytes), IPv4 (20), UDP (8): the DNS message starts at 48.
    let mut cut = full.clone();
    cut[2].0.truncate(60);
    let mut tiny = full[..1].to_vec();
    {
        let f = &mut tiny[0].0;
        f.truncate(49);
        f[22..24].copy_from_slice(&29u16.to_be_bytes()); // IPv4 total length
        f[44..46].copy_from_slice(&9u16.to_be_bytes()); // UDP length
        tiny[0].1 = 49;
    }
    let mut other_port = full[..1].to_vec();
    other_port[0].0[42..44].copy_from_slice(&5353u16.to_be_bytes());
    let dig = std::fs::read(workspace().join(DIG)).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated.pcapng",
            dig[..dig.len() - 700].to_vec(),
            "truncated.pcapng: packet 3",
        ),
        (
            "snaplen.pcap",
            pcap_with(&header, &cut),
            "snaplen.pcap: packet 3: the DNS packet was cut by the capture's snaplen (60 of ",
        ),
        (
            "tiny.pcap",
            pcap_with(&header, &tiny),
            "tiny.pcap: packet 1: not a DNS message: a UDP payload of 1 byte(s) on port ",
        ),
        (
            "nodns.pcap",
            pcap_with(&header, &other_port),
            "nodns.pcap: no DHCP or DNS packets in the capture (1 packet(s), none UDP on port 67, 68 or 53)",
        ),
    ];
    for (name, bytes, want) in &cases {
        let p = assert_capture_rejected(&d, name, bytes, KDIG, want);
        // As the offline target of a DNS suite.
        let o = conform(&[
            "run",
            "suites/dns/rfc1035",
            "--adapter",
            &format!("pcap:{}", p.display()),
            "--out",
            d.to_str().unwrap(),
        ]);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        let want = want
            .replace("no DHCP or DNS packets", "no DNS packets")
            .replace("port 67, 68 or 53", "port 53");
        assert!(err.contains(&want), "{name}: expected `{want}` in: {err}");
    }
}

#[test]
fn live_replay_of_the_dns_corpus_against_nsd() {
    if !is_root() {
        eprintln!("SKIPPED: live DNS replay needs root (network namespaces)");
        return;
    }
    if !have("nsd") {
        eprintln!("SKIPPED: live DNS replay needs nsd (run ci/install-dns-servers.sh)");
        return;
    }
    let d = tmp("live");
    for (file, n) in [(DIG, 15), (KDIG, 7)] {
        let ev = d.join("ev.jsonl");
        let o = conform(&[
            "replay",
            file,
            "--target",
            "nsd",
            "--out",
            d.to_str().unwrap(),
            "--events",
            ev.to_str().unwrap(),
        ]);
        let out = format!("{}{}", text(&o.stdout), text(&o.stderr));
        assert_eq!(o.status.code(), Some(0), "{file}: {out}");
        assert!(out.contains(&format!("{n} passed, 0 failed")), "{out}");
        let events = std::fs::read_to_string(&ev).unwrap();
        assert!(
            events.matches("\"type\":\"matched\"").count() >= n,
            "every case matched a live response: {events}"
        );
    }
}

#[test]
fn an_unanswered_query_becomes_a_silence_window() {
    let d = tmp("silence");
    // The kdig capture without its last record (the response to its last query).
    let kdig = std::fs::read(workspace().join(KDIG)).unwrap();
    let (header, records) = pcap_records(&kdig);
    let frames: Vec<(Vec<u8>, u32)> = records[..records.len() - 1]
        .iter()
        .map(|f| (f.clone(), f.len() as u32))
        .collect();
    let cap = d.join("noanswer.pcap");
    std::fs::write(&cap, pcap_with(&header, &frames)).unwrap();
    let out = d.join("noanswer.yaml");
    let o = conform(&["import", cap.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let y = std::fs::read_to_string(&out).unwrap();
    assert!(
        y.contains(&format!(
            "did not answer this query (packet {}); the live server did",
            records.len() - 1
        )),
        "{y}"
    );
    assert!(y.contains("- timeout: quiet"), "{y}");
    let check = conform(&["check", out.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
}
