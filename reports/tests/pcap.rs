//! pcapng written from events carries one comment per packet, and the real tshark reads the
//! file, dissects the DHCP inside and shows the comments.

use conform_codec::{protocol_by_name, FieldRef, Value};
use conform_model::event::{At, EventKind, RunEvent};
use conform_model::Verdict;
use std::net::Ipv4Addr;
use std::process::Command;

fn dhcp(fields: &[(&str, Value)]) -> conform_codec::Datagram {
    let p = protocol_by_name("dhcp").unwrap();
    let f: Vec<(FieldRef, Option<Value>)> = fields
        .iter()
        .map(|(k, v)| (p.resolve(k).unwrap(), Some(v.clone())))
        .collect();
    p.encode(&f).unwrap()
}

fn events() -> Vec<RunEvent> {
    let at = |step: &str| At {
        case: "c1".into(),
        component: "mtc".into(),
        step: step.into(),
    };
    let discover = dhcp(&[
        ("xid", Value::Int(0x1234)),
        ("options.message_type", Value::Int(1)),
    ]);
    let offer = dhcp(&[
        ("op", Value::Int(2)),
        ("xid", Value::Int(0x1234)),
        ("yiaddr", Value::Ipv4(Ipv4Addr::new(192, 0, 2, 100))),
        ("options.message_type", Value::Int(2)),
        ("ip.src", Value::Ipv4(Ipv4Addr::new(192, 0, 2, 1))),
        ("udp.src", Value::Int(67)),
        ("udp.dst", Value::Int(68)),
    ]);
    let ev = |t: f64, kind| RunEvent { t_ms: t, kind };
    vec![
        ev(
            0.0,
            EventKind::RunStarted {
                version: 1,
                run_id: "r".into(),
                target: "t".into(),
                adapter: "a".into(),
                cases: 1,
                seed: 1,
                started_unix_ms: 1_795_000_000_000,
            },
        ),
        ev(
            0.1,
            EventKind::CaseStarted {
                case: "c1".into(),
                title: "t".into(),
                suite: "s".into(),
                file: "f".into(),
                spec: "RFC 2131 §3.1".into(),
                level: "MUST".into(),
                text: "x".into(),
                tags: vec![],
            },
        ),
        ev(
            1.0,
            EventKind::Sent {
                at: at("1"),
                template: "discover".into(),
                summary: "DHCPDISCOVER xid=0x1234".into(),
                datagram: discover,
            },
        ),
        ev(
            2.0,
            EventKind::Received {
                at: at(""),
                summary: "DHCPOFFER xid=0x00001234".into(),
                datagram: offer,
            },
        ),
        ev(
            2.1,
            EventKind::Matched {
                at: at("2"),
                template: "offer".into(),
                summary: "DHCPOFFER xid=0x00001234".into(),
                captured: vec![],
            },
        ),
        ev(
            3.0,
            EventKind::CaseFinished {
                case: "c1".into(),
                verdict: Verdict::Pass,
                reason: None,
                duration_ms: 3.0,
                deviation: None,
            },
        ),
    ]
}

#[test]
fn every_packet_has_a_comment_and_tshark_reads_it() {
    let mut buf = Vec::new();
    let n = conform_reports::pcap::write(&events(), None, &mut buf).unwrap();
    assert_eq!(n, 2);
    // pcapng section header block magic.
    assert_eq!(&buf[..4], &[0x0a, 0x0d, 0x0d, 0x0a]);
    // Removed when the test ends.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("run.pcapng");
    std::fs::write(&f, &buf).unwrap();
    if Command::new("tshark").arg("--version").output().is_err() {
        eprintln!("SKIPPED: the tshark half of this test needs tshark (apt-get install tshark)");
        return;
    }
    let out = Command::new("tshark")
        .args([
            "-r",
            f.to_str().unwrap(),
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "dhcp.option.dhcp",
            "-e",
            "dhcp.id",
            "-e",
            "frame.comment",
            "-e",
            "frame.time_epoch",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        2,
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        lines[0].starts_with(
            "1|0x00001234|case=c1 component=mtc step=1 sent template `discover`; case verdict pass"
        ),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("2|0x00001234|") && lines[1].contains("matched template `offer`"),
        "{}",
        lines[1]
    );
    // Packet times are the run's wall-clock start plus the event time (1 ms and 2 ms): the
    // interface must declare the resolution the timestamps are written in.
    assert!(lines[0].ends_with("|1795000000.001000000"), "{}", lines[0]);
    assert!(lines[1].ends_with("|1795000000.002000000"), "{}", lines[1]);
}

#[test]
fn per_case_filter_and_listing() {
    assert_eq!(
        conform_reports::pcap::cases_with_packets(&events()),
        vec!["c1".to_string()]
    );
    let mut buf = Vec::new();
    assert_eq!(
        conform_reports::pcap::write(&events(), Some("other"), &mut buf).unwrap(),
        0
    );
}
