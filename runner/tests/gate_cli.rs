//! The CI-gate features through the real binary, without privileges: expected-results
//! baselines and their exit codes, sharding with `--partition k/n`, merging shard reports.
//! The "server" is a silent UDP socket on loopback that this test owns, so every case fails
//! the same way (no reply), which is what the baseline then records.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_conform")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn conform(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn tmp(name: &str) -> PathBuf {
    let d =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("gate-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const SUITE: &str = r#"
protocol: dhcp
templates:
  discover:
    op: BOOTREQUEST
    xid: $xid
    chaddr: $chaddr
    options: { message_type: DISCOVER }
  offer:
    op: BOOTREPLY
    xid: $xid
cases:
  - id: gate-a
    spec: RFC 2131 §4.3.1
    level: MUST
    text: "the server responds"
    steps:
      - send: discover
      - receive: { template: offer, timeout: 200ms }
  - id: gate-b
    spec: RFC 2131 §4.3.1
    level: MUST
    text: "the server responds"
    steps:
      - send: discover
      - receive: { template: offer, timeout: 200ms }
"#;

#[test]
fn baseline_turns_recorded_failures_into_a_green_gate_and_catches_regressions() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let d = tmp("baseline");
    let suite = d.join("s.yaml");
    std::fs::write(&suite, SUITE).unwrap();
    let events = d.join("e.jsonl");
    let base = d.join("baseline.json");
    let s = suite.to_str().unwrap();

    // Without a baseline the failures fail the gate.
    let o = conform(&[
        "run",
        s,
        "--udp",
        &addr,
        "--events",
        events.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));

    // Record them; then the same run is as expected: exit 0.
    let o = conform(&[
        "baseline",
        "update",
        "--from",
        events.to_str().unwrap(),
        "--baseline",
        base.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let json = std::fs::read_to_string(&base).unwrap();
    assert!(
        json.contains("\"gate-a\": \"fail\"") && json.contains(&format!("udp {addr}")),
        "{json}"
    );
    let o = conform(&[
        "run",
        s,
        "--udp",
        &addr,
        "--baseline",
        base.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("0 regression(s), 0 new failure(s)"),
        "{}",
        text(&o)
    );

    // A baseline that expects a pass: the same failure is now a regression, exit 1.
    std::fs::write(
        &base,
        json.replace("\"gate-a\": \"fail\"", "\"gate-a\": \"pass\""),
    )
    .unwrap();
    let o = conform(&[
        "run",
        s,
        "--udp",
        &addr,
        "--baseline",
        base.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("REGRESSION  gate-a: expected pass, now fail"),
        "{}",
        text(&o)
    );

    // A broken baseline file is a usage error.
    std::fs::write(&base, "not json").unwrap();
    let o = conform(&[
        "run",
        s,
        "--udp",
        &addr,
        "--baseline",
        base.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn shards_partition_the_cases_and_merge_back() {
    // Listing: the shards of suites/examples are disjoint and cover every case.
    let ids = |args: &[&str]| -> Vec<String> {
        let o = conform(args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(String::from))
            .collect()
    };
    let all = ids(&["list", "suites/examples"]);
    let s1 = ids(&["list", "suites/examples", "--partition", "1/3"]);
    let s2 = ids(&["list", "suites/examples", "--partition", "2/3"]);
    let s3 = ids(&["list", "suites/examples", "--partition", "3/3"]);
    let mut union: Vec<String> = s1.iter().chain(&s2).chain(&s3).cloned().collect();
    union.sort();
    let mut sorted_all = all.clone();
    sorted_all.sort();
    assert_eq!(union, sorted_all, "every case in exactly one shard");
    assert!(!all.is_empty());
    let o = conform(&["list", "suites/examples", "--partition", "4/3"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    // Running: two shards of the two-case suite, then one merged JUnit report.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let d = tmp("shards");
    let suite = d.join("s.yaml");
    std::fs::write(&suite, SUITE).unwrap();
    let mut froms = Vec::new();
    for k in 1..=2 {
        let e = d.join(format!("e{k}.jsonl"));
        let _ = conform(&[
            "run",
            suite.to_str().unwrap(),
            "--udp",
            &addr,
            "--partition",
            &format!("{k}/2"),
            "--events",
            e.to_str().unwrap(),
        ]);
        froms.push(e);
    }
    let junit = d.join("merged.xml");
    let mut args: Vec<String> = vec!["report".into()];
    for f in &froms {
        args.push("--from".into());
        args.push(f.display().to_string());
    }
    args.push("--junit".into());
    args.push(junit.display().to_string());
    let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let o = conform(&args);
    assert_eq!(o.status.code(), Some(1), "both cases fail: {}", text(&o));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(r#"testcase name="gate-a""#) && xml.contains(r#"testcase name="gate-b""#),
        "{xml}"
    );
}
