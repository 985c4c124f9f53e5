//! Reports are rendered from events alone: a synthetic event stream with every verdict kind
//! goes in, the JUnit XML, the terminal summary and the gate decision come out.

use conform_model::event::{At, EventKind, RunEvent};
use conform_model::{Mismatch, Verdict};
use conform_reports::aggregate::InconcPolicy;
use conform_reports::{jsonl, junit, term, RunRecord};

fn ev(t: f64, kind: EventKind) -> RunEvent {
    RunEvent { t_ms: t, kind }
}

fn at(case: &str) -> At {
    At {
        case: case.into(),
        component: "mtc".into(),
        step: "2".into(),
    }
}

fn case(
    id: &str,
    verdict: Verdict,
    reason: Option<&str>,
    deviation: Option<&str>,
) -> Vec<RunEvent> {
    vec![
        ev(
            0.0,
            EventKind::CaseStarted {
                case: id.into(),
                title: format!("title of {id}"),
                suite: "rfc2131".into(),
                file: "suites/dhcp/x.yaml".into(),
                spec: "RFC 2131 §4.3.1".into(),
                level: "MUST".into(),
                text: "the server MUST respond".into(),
                tags: vec!["core".into()],
            },
        ),
        ev(
            1.0,
            EventKind::CaseFinished {
                case: id.into(),
                verdict,
                reason: reason.map(String::from),
                duration_ms: 12.0,
                deviation: deviation.map(String::from),
            },
        ),
    ]
}

fn events() -> Vec<RunEvent> {
    let mut v = vec![ev(
        0.0,
        EventKind::RunStarted {
            version: 1,
            run_id: "r1".into(),
            target: "dnsmasq".into(),
            adapter: "raw".into(),
            cases: 6,
            seed: 1,
            started_unix_ms: 0,
        },
    )];
    v.extend(case("ok", Verdict::Pass, None, None));
    let mut f = case(
        "bad",
        Verdict::Fail,
        Some("no message matching `offer` within 2s"),
        None,
    );
    f.insert(
        1,
        ev(
            0.5,
            EventKind::Mismatch {
                at: at("bad"),
                template: "offer".into(),
                closest: Some("DHCPNAK xid=0x1".into()),
                mismatches: vec![Mismatch {
                    path: "options.53".into(),
                    expected: "OFFER (2)".into(),
                    actual: "NAK (6)".into(),
                }],
                unmatched: vec!["DHCPNAK xid=0x1".into()],
            },
        ),
    );
    v.extend(f);
    v.extend(case(
        "maybe",
        Verdict::Inconc,
        Some("no option 121 configured"),
        None,
    ));
    v.extend(case(
        "known",
        Verdict::Fail,
        Some("option 61 absent"),
        Some("dnsmasq does not echo option 61"),
    ));
    v.extend(case(
        "xpass",
        Verdict::Pass,
        None,
        Some("recorded deviation"),
    ));
    v.extend(case("silent", Verdict::None, None, None));
    v.push(ev(
        2.0,
        EventKind::RunFinished {
            counts: Default::default(),
            duration_ms: 2000.0,
        },
    ));
    v
}

#[test]
fn gate_decisions_per_verdict_and_policy() {
    let r = RunRecord::from_events(events().iter());
    let ok: Vec<(&str, bool)> = r
        .cases
        .iter()
        .map(|c| (c.id.as_str(), c.gate_ok(InconcPolicy::Fail)))
        .collect();
    assert_eq!(
        ok,
        vec![
            ("ok", true),
            ("bad", false),
            ("maybe", false),
            ("known", true),
            ("xpass", false),
            ("silent", false)
        ]
    );
    let maybe = r.cases.iter().find(|c| c.id == "maybe").unwrap();
    assert!(maybe.gate_ok(InconcPolicy::Pass));
    assert!(maybe.gate_ok(InconcPolicy::Skip));
    let n = r.counts();
    assert_eq!(
        (n.pass, n.fail, n.inconc, n.none, n.deviations),
        (2, 2, 1, 1, 1)
    );
}

#[test]
fn junit_maps_verdicts_and_carries_spec_and_mismatches() {
    let r = RunRecord::from_events(events().iter());
    let xml = junit::render(&r, InconcPolicy::Fail).unwrap();
    // Inconclusive is a failure by default (Titan shows it as passing; we do not).
    assert!(xml.contains(r#"<testcase name="maybe""#));
    let maybe = &xml[xml.find(r#"<testcase name="maybe""#).unwrap()..];
    assert!(maybe[..maybe.find("</testcase>").unwrap()].contains("<failure"));
    assert!(xml.contains("known deviation of target `dnsmasq`: dnsmasq does not echo option 61"));
    assert!(xml.contains("unexpected pass"));
    assert!(xml.contains("no verdict was set"));
    assert!(xml.contains(r#"<property name="spec" value="RFC 2131 §4.3.1"/>"#));
    assert!(xml.contains("options.53: expected OFFER (2), actual NAK (6)"));
    let skip = junit::render(&r, InconcPolicy::Skip).unwrap();
    let maybe = &skip[skip.find(r#"<testcase name="maybe""#).unwrap()..];
    assert!(maybe[..maybe.find("</testcase>").unwrap()].contains("<skipped"));
}

#[test]
fn terminal_summary_shows_diffs_and_counts() {
    let r = RunRecord::from_events(events().iter());
    let s = term::summary(&r, InconcPolicy::Fail, term::Style { color: false });
    assert!(s.contains("--- bad [RFC 2131 §4.3.1] fail ---"), "{s}");
    assert!(
        s.contains("options.53: expected OFFER (2), actual NAK (6)"),
        "{s}"
    );
    assert!(s.contains("2 passed, 4 failed"), "{s}");
    let line = term::case_line(
        r.cases.iter().find(|c| c.id == "known").unwrap(),
        term::Style { color: false },
    );
    assert!(
        line.contains("DEVIATION") && line.contains("dnsmasq does not echo option 61"),
        "{line}"
    );
    let line = term::case_line(
        r.cases.iter().find(|c| c.id == "xpass").unwrap(),
        term::Style { color: false },
    );
    assert!(line.contains("XPASS"), "{line}");
}

#[test]
fn events_survive_a_jsonl_round_trip_and_bad_lines_are_named() {
    let mut buf = Vec::new();
    for e in events() {
        jsonl::write_event(&mut buf, &e).unwrap();
    }
    let back = jsonl::read_events(&buf[..]).unwrap();
    assert_eq!(back, events());
    let mut bad = buf.clone();
    bad.extend_from_slice(b"{not json}\n");
    let err = jsonl::read_events(&bad[..]).unwrap_err();
    assert!(
        err.starts_with(&format!("line {}:", events().len() + 1)),
        "{err}"
    );
}
