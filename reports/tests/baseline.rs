//! Baselines: the gate fails on regressions and new failures only; fixes are reported.

use conform_model::event::{EventKind, RunEvent};
use conform_model::Verdict;
use conform_reports::baseline::Baseline;
use conform_reports::RunRecord;

fn run(target: &str, cases: &[(&str, Verdict)]) -> RunRecord {
    let mut ev = vec![RunEvent {
        t_ms: 0.0,
        kind: EventKind::RunStarted {
            version: 1,
            run_id: "r".into(),
            target: target.into(),
            adapter: "a".into(),
            cases: cases.len(),
            seed: 1,
            started_unix_ms: 0,
        },
    }];
    for (id, v) in cases {
        ev.push(RunEvent {
            t_ms: 0.0,
            kind: EventKind::CaseStarted {
                case: id.to_string(),
                title: String::new(),
                suite: "s".into(),
                file: "f".into(),
                spec: "RFC 1 §1".into(),
                level: "MUST".into(),
                text: "t".into(),
                tags: vec![],
            },
        });
        ev.push(RunEvent {
            t_ms: 1.0,
            kind: EventKind::CaseFinished {
                case: id.to_string(),
                verdict: *v,
                reason: None,
                duration_ms: 1.0,
                deviation: None,
            },
        });
    }
    RunRecord::from_events(ev.iter())
}

#[test]
fn regressions_and_new_failures_fail_fixes_are_reported() {
    let mut base = Baseline::default();
    base.update(&run(
        "kea",
        &[
            ("a", Verdict::Pass),
            ("b", Verdict::Fail),
            ("c", Verdict::Pass),
            ("d", Verdict::Inconc),
        ],
    ));
    // Same results: gate ok, failures expected.
    let same = base.compare(&run(
        "kea",
        &[
            ("a", Verdict::Pass),
            ("b", Verdict::Fail),
            ("c", Verdict::Pass),
            ("d", Verdict::Inconc),
        ],
    ));
    assert!(same.gate_ok());
    assert_eq!(same.expected_failures, 2);
    // a regresses, b is fixed, e is new and failing, c not run.
    let now = base.compare(&run(
        "kea",
        &[
            ("a", Verdict::Fail),
            ("b", Verdict::Pass),
            ("d", Verdict::Fail),
            ("e", Verdict::Inconc),
        ],
    ));
    assert!(!now.gate_ok());
    assert_eq!(
        now.regressions,
        vec![
            ("a".into(), Verdict::Pass, Verdict::Fail),
            ("d".into(), Verdict::Inconc, Verdict::Fail)
        ]
    );
    assert_eq!(now.new_failures, vec![("e".into(), Verdict::Inconc)]);
    assert_eq!(now.fixed, vec![("b".into(), Verdict::Fail)]);
    assert_eq!(now.not_run, 1);
    let text = now.render();
    assert!(
        text.contains("REGRESSION  a: expected pass, now fail")
            && text.contains("conform baseline update"),
        "{text}"
    );
}

#[test]
fn baselines_are_per_target_and_round_trip() {
    let mut base = Baseline::default();
    base.update(&run("kea", &[("a", Verdict::Fail)]));
    base.update(&run("dnsmasq", &[("a", Verdict::Pass)]));
    assert!(base.compare(&run("kea", &[("a", Verdict::Fail)])).gate_ok());
    assert!(!base
        .compare(&run("dnsmasq", &[("a", Verdict::Fail)]))
        .gate_ok());
    // Removed when the test ends.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("b.json");
    std::fs::write(&f, base.to_json()).unwrap();
    assert_eq!(Baseline::load(&f).unwrap(), base);
    std::fs::write(&f, "{\"version\": 9, \"targets\": {}}").unwrap();
    assert!(Baseline::load(&f).unwrap_err().contains("version 9"));
}
