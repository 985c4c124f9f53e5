//! `conform import`, `conform replay` and `--adapter pcap:FILE` on the real-client corpus
//! (suites/dhcp/clients) and on crafted bad captures. The live test replays the corpus against
//! dnsmasq in a lab when it can (root, dnsmasq), and says SKIPPED otherwise.

use conform_codec::dhcp::raw::Repr;
use std::path::Path;

mod support;
use support::{assert_capture_rejected, conform, have, is_root, text, workspace};

fn tmp(name: &str) -> support::TmpDir {
    support::tmp("replay", name)
}

const CLIENTS: &[&str] = &["dhclient", "dhcpcd", "udhcpc", "networkd"];

fn corpus(c: &str) -> String {
    format!("suites/dhcp/clients/{c}.pcapng")
}

#[test]
fn import_writes_a_loadable_suite_for_every_corpus_capture() {
    let d = tmp("import");
    for c in CLIENTS {
        let out = d.join(format!("{c}.yaml"));
        let o = conform(&["import", &corpus(c), "-o", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{c}: {}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains("1 case(s) from 2 dhcp request(s)"),
            "{}",
            text(&o.stderr)
        );
        let y = std::fs::read_to_string(&out).unwrap();
        assert!(y.contains(&format!("suite: \"{c}\"")), "{y}");
        assert!(
            y.contains("xid: $xid") && y.contains("chaddr: $chaddr"),
            "identity rewritten: {y}"
        );
        assert!(
            y.contains("options.requested_ip: $yiaddr_2"),
            "the REQUEST asks for the live offer: {y}"
        );
        assert!(
            y.contains("options.server_id: $server_2"),
            "and names the live server: {y}"
        );
        assert!(
            y.contains("yiaddr: { range: \"$pool_start..$pool_end\" }"),
            "{y}"
        );
        assert!(
            y.contains("yiaddr: $yiaddr_2"),
            "the ACK must confirm the offered address: {y}"
        );
        assert!(!y.contains("options.renewal_time"), "T1 is ignored: {y}");
        let check = conform(&["check", out.to_str().unwrap()]);
        assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    }
    // udhcpc sends 01 + MAC as client identifier: it becomes this run's identity.
    let y = std::fs::read_to_string(d.join("udhcpc.yaml")).unwrap();
    assert!(y.contains("options.client_id: $client_id"), "{y}");
    // networkd's RFC 4361 identifier stays as captured.
    let y = std::fs::read_to_string(d.join("networkd.yaml")).unwrap();
    assert!(y.contains("options.client_id: \"0xff"), "{y}");
}

#[test]
fn import_options_name_ignore_and_timeouts() {
    let d = tmp("import-opts");
    let out = d.join("x.yaml");
    let o = conform(&[
        "import",
        &corpus("dhclient"),
        "-o",
        out.to_str().unwrap(),
        "--name",
        "mine",
        "--ignore",
        "options.routers",
        "--ignore",
        "flags",
        "--timeout",
        "5s",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let y = std::fs::read_to_string(&out).unwrap();
    assert!(y.contains("- id: \"mine-1\""), "{y}");
    assert!(
        !y.contains("options.routers") && !y.contains("flags:"),
        "{y}"
    );
    assert!(y.contains("receive_timeout: 5000ms"), "{y}");
    let o = conform(&[
        "import",
        &corpus("dhclient"),
        "-o",
        out.to_str().unwrap(),
        "--timeout",
        "soon",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("--timeout: `soon` is not a duration"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn replay_offline_against_its_own_trace_passes_with_reports() {
    let d = tmp("offline");
    for c in CLIENTS {
        let ev = d.join(format!("{c}.jsonl"));
        let junit = d.join(format!("{c}.xml"));
        let pcap = d.join(format!("{c}-out.pcapng"));
        let o = conform(&[
            "replay",
            &corpus(c),
            "--adapter",
            &format!("pcap:{}", corpus(c)),
            "--out",
            d.to_str().unwrap(),
            "--events",
            ev.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
            "--pcap",
            pcap.to_str().unwrap(),
            "--seed",
            "3",
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{c}: {}{}",
            text(&o.stdout),
            text(&o.stderr)
        );
        let events = std::fs::read_to_string(&ev).unwrap();
        assert!(
            events.contains("\"type\":\"case_finished\"")
                && events.contains("\"verdict\":\"pass\""),
            "{events}"
        );
        assert!(std::fs::read_to_string(&junit)
            .unwrap()
            .contains(&format!("{c}-1")));
        // The run's own capture of the replay is readable again (record -> replay).
        let again = conform(&[
            "import",
            pcap.to_str().unwrap(),
            "-o",
            d.join(format!("{c}-again.yaml")).to_str().unwrap(),
        ]);
        assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
        assert!(
            d.join("replay").join(format!("{c}.yaml")).exists(),
            "the generated suite is kept"
        );
    }
}

/// Rewrites the message type of every DHCPACK in a pcapng capture to DHCPNAK (same length),
/// fixing nothing else: the UDP checksum becomes wrong, which the replay ignores.
fn ack_to_nak(src: &Path, dst: &Path) {
    let mut b = std::fs::read(src).unwrap();
    let pattern = [0x35, 0x01, 0x05];
    let mut n = 0;
    let mut i = 0;
    while i + 3 <= b.len() {
        if b[i..i + 3] == pattern
            && b[..i]
                .windows(4)
                .rev()
                .take(400)
                .any(|w| w == [0x63, 0x82, 0x53, 0x63])
        {
            b[i + 2] = 0x06;
            n += 1;
        }
        i += 1;
    }
    assert_eq!(n, 1, "one ACK in the capture");
    std::fs::write(dst, b).unwrap();
}

#[test]
fn replay_fails_when_the_server_answers_differently() {
    let d = tmp("differs");
    let nak = d.join("nak.pcapng");
    ack_to_nak(&workspace().join(corpus("udhcpc")), &nak);
    // The live "server" is the doctored trace: it NAKs the REQUEST the capture saw ACKed.
    let o = conform(&[
        "replay",
        &corpus("udhcpc"),
        "--adapter",
        &format!("pcap:{}", nak.display()),
        "--out",
        d.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let out = text(&o.stdout);
    assert!(out.contains("FAIL"), "{out}");
    assert!(out.contains("captured DHCPACK (packet 4)"), "{out}");
    assert!(
        out.contains("expected ACK (5), actual NAK (6)"),
        "the mismatch names the field: {out}"
    );
}

#[test]
fn offline_check_of_a_suite_against_a_trace() {
    let d = tmp("offline-suite");
    let ev = d.join("e.jsonl");
    let o = conform(&[
        "run",
        "suites/examples/dora.yaml",
        "-k",
        "^dora-ack-confirms-offer$",
        "--adapter",
        &format!("pcap:{}", corpus("dhclient")),
        "--events",
        ev.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let events = std::fs::read_to_string(&ev).unwrap();
    assert!(
        events.contains(
            "\"adapter\":\"pcap suites/dhcp/clients/dhclient.pcapng (2 captured replies)\""
        ),
        "{events}"
    );
    // A pcap target is a target of its own.
    let o = conform(&[
        "run",
        "suites/examples/dora.yaml",
        "--target",
        "dnsmasq",
        "--adapter",
        "pcap:x.pcap",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("is a target of its own"),
        "{}",
        text(&o.stderr)
    );
}

/// A classic pcap file with one record per frame; `orig` overrides the original length.
fn pcap_file(linktype: u32, frames: &[(Vec<u8>, u32)]) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [
        0xa1b2c3d4u32.to_le_bytes().to_vec(),
        vec![2, 0, 4, 0],
        vec![0; 8],
        65535u32.to_le_bytes().to_vec(),
        linktype.to_le_bytes().to_vec(),
    ] {
        b.extend_from_slice(&v);
    }
    for (f, orig) in frames {
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&(f.len() as u32).to_le_bytes());
        b.extend_from_slice(&orig.to_le_bytes());
        b.extend_from_slice(f);
    }
    b
}

/// The Ethernet frames of a corpus capture (EPB bodies of a little-endian pcapng from tcpdump).
fn corpus_frames(c: &str) -> Vec<Vec<u8>> {
    let b = std::fs::read(workspace().join(corpus(c))).unwrap();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 12 <= b.len() {
        let ty = u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
        let len = u32::from_le_bytes(b[i + 4..i + 8].try_into().unwrap()) as usize;
        if ty == 6 {
            let cap = u32::from_le_bytes(b[i + 20..i + 24].try_into().unwrap()) as usize;
            out.push(b[i + 28..i + 28 + cap].to_vec());
        }
        i += len.max(12);
    }
    assert_eq!(out.len(), 4);
    assert_eq!(Repr::parse(&out[0][42..]).op, 1);
    out
}

#[test]
fn bad_captures_give_exit_2_naming_file_and_packet() {
    let d = tmp("bad");
    let frames = corpus_frames("dhclient");
    let full: Vec<(Vec<u8>, u32)> = frames.iter().map(|f| (f.clone(), f.len() as u32)).collect();
    let good = pcap_file(1, &full);
    let mut cut_snap = full.clone();
    cut_snap[2].0.truncate(64);
    let no_dhcp: Vec<(Vec<u8>, u32)> = vec![(vec![0xff; 60], 60)];
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated.pcap", good[..good.len() - 100].to_vec(), "truncated.pcap: packet 4: the file ends inside this packet's record"),
        ("linktype.pcap", pcap_file(105, &full), "linktype.pcap: packet 1: link type 105 (IEEE 802.11) is not supported"),
        ("snaplen.pcap", pcap_file(1, &cut_snap), "snaplen.pcap: packet 3: the DHCP packet was cut by the capture's snaplen (64 of 342 bytes captured)"),
        // import and replay: "no DHCP or DNS packets ..."; the DHCP offline target: "no DHCP packets ..." (the full sentences: tests/replay_dns.rs).
        ("nodhcp.pcap", pcap_file(1, &no_dhcp), "nodhcp.pcap: no DHCP "),
        ("corrupt.pcap", b"\x0a\x0d\x0d\x0a\xff\xff\xff\xff garbage".to_vec(), "corrupt.pcap: corrupt pcapng section header block"),
        ("text.pcap", b"hello".to_vec(), "text.pcap: not a pcap or pcapng capture"),
    ];
    for (name, bytes, want) in &cases {
        let p = assert_capture_rejected(&d, name, bytes, &corpus("dhclient"), want);
        // As an offline target too.
        let o = conform(&[
            "run",
            "suites/examples/dora.yaml",
            "--adapter",
            &format!("pcap:{}", p.display()),
        ]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains(want),
            "{name}: {}",
            text(&o.stderr)
        );
    }
}

#[test]
fn live_replay_of_the_corpus_against_dnsmasq() {
    if !is_root() {
        eprintln!("SKIPPED: live replay needs root (network namespaces, raw sockets)");
        return;
    }
    if !have("dnsmasq") {
        eprintln!("SKIPPED: live replay needs dnsmasq (run ci/install-servers.sh)");
        return;
    }
    let d = tmp("live");
    for c in CLIENTS {
        let ev = d.join(format!("{c}.jsonl"));
        let o = conform(&[
            "replay",
            &corpus(c),
            "--target",
            "dnsmasq",
            "--out",
            d.to_str().unwrap(),
            "--events",
            ev.to_str().unwrap(),
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{c}: {}{}",
            text(&o.stdout),
            text(&o.stderr)
        );
        let events = std::fs::read_to_string(&ev).unwrap();
        assert_eq!(
            events.matches("\"type\":\"received\"").count(),
            2,
            "an OFFER and an ACK: {events}"
        );
    }
}

#[test]
fn large_captures_become_several_suite_files() {
    let d = tmp("large");
    let frames = corpus_frames("dhclient");
    let n = conform_runner::replay::CASES_PER_FILE + 5;
    let mut records = Vec::with_capacity(n * 4);
    for k in 0..n {
        let mac = [0x02, 0xee, 0, 0, (k >> 8) as u8, k as u8];
        for f in &frames {
            let mut f = f.clone();
            if f[6..12] == frames[0][6..12] {
                f[6..12].copy_from_slice(&mac);
            }
            f[46..50].copy_from_slice(&(0x7000_0000u32 + k as u32).to_be_bytes());
            f[70..76].copy_from_slice(&mac);
            f[40..42].copy_from_slice(&[0, 0]);
            let len = f.len() as u32;
            records.push((f, len));
        }
    }
    let cap = d.join("many.pcap");
    std::fs::write(&cap, pcap_file(1, &records)).unwrap();
    let out = d.join("many.yaml");
    let o = conform(&["import", cap.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("written as 2 files"),
        "{}",
        text(&o.stderr)
    );
    let second = d.join("many-2.yaml");
    let y = std::fs::read_to_string(&second).unwrap();
    assert!(
        y.contains("suite: \"many-2\""),
        "{}",
        &y[..400.min(y.len())]
    );
    assert_eq!(y.matches("  - id: ").count(), 5);
    let check = conform(&["check", out.to_str().unwrap(), second.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    assert!(
        text(&check.stdout).contains(&format!("{n} case(s)")),
        "{}",
        text(&check.stdout)
    );
}

#[test]
fn an_unanswered_request_becomes_a_silence_window() {
    let d = tmp("silence");
    // The dhclient DORA without its DHCPACK: the DHCPREQUEST (packet 3) went unanswered.
    let frames: Vec<(Vec<u8>, u32)> = corpus_frames("dhclient")
        .into_iter()
        .take(3)
        .map(|f| {
            let n = f.len() as u32;
            (f, n)
        })
        .collect();
    let cap = d.join("noack.pcap");
    std::fs::write(&cap, pcap_file(1, &frames)).unwrap();
    let out = d.join("noack.yaml");
    let o = conform(&["import", cap.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let y = std::fs::read_to_string(&out).unwrap();
    assert!(
        y.contains("did not answer this DHCPREQUEST (packet 3); the live server did"),
        "{y}"
    );
    assert!(y.contains("- timeout: quiet_"), "{y}");
    let check = conform(&["check", out.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
}
