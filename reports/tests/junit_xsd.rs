//! conform's JUnit XML validates against the common Jenkins/Ant JUnit schema
//! (`tests/data/junit.xsd`), checked with `xmllint --schema` for every verdict kind, every
//! inconc policy and hostile text (markup, CDATA terminators, control characters, ANSI codes).
//! Skips loudly when xmllint is missing (apt-get install libxml2-utils, or
//! ci/install-report-tools.sh).

use conform_model::event::{At, Counts, EventKind, RunEvent};
use conform_model::{Mismatch, Verdict};
use conform_reports::aggregate::InconcPolicy;
use conform_reports::{junit, RunRecord};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn ev(t: f64, kind: EventKind) -> RunEvent {
    RunEvent { t_ms: t, kind }
}

const HOSTILE: &str =
    "<b>&amp;</b> ]]> \"quoted\" 'single' \u{1b}[31mred\u{1b}[0m nul:\u{0} bell:\u{7} §4.3.1 ✓";

fn case(
    id: &str,
    suite: &str,
    verdict: Verdict,
    reason: Option<&str>,
    deviation: Option<&str>,
    mismatch: bool,
) -> Vec<RunEvent> {
    let at = At {
        case: id.into(),
        component: "mtc".into(),
        step: "1".into(),
    };
    let mut v = vec![ev(
        0.0,
        EventKind::CaseStarted {
            case: id.into(),
            title: format!("title of {id} {HOSTILE}"),
            suite: suite.into(),
            file: "suites/dhcp/x.yaml".into(),
            spec: "RFC 2131 §4.3.1".into(),
            level: "MUST".into(),
            text: format!("the server MUST respond {HOSTILE}"),
            tags: vec!["core".into(), "a,b".into()],
        },
    )];
    v.push(ev(
        0.1,
        EventKind::Sent {
            at: at.clone(),
            template: "discover".into(),
            summary: format!("DHCPDISCOVER {HOSTILE}"),
            datagram: Default::default(),
        },
    ));
    v.push(ev(
        0.2,
        EventKind::Received {
            at: at.clone(),
            summary: format!("DHCPNAK {HOSTILE}"),
            datagram: Default::default(),
        },
    ));
    if mismatch {
        v.push(ev(
            0.3,
            EventKind::Mismatch {
                at: at.clone(),
                template: "offer".into(),
                closest: Some(format!("DHCPNAK {HOSTILE}")),
                mismatches: vec![Mismatch {
                    path: "options.53".into(),
                    expected: "OFFER (2)".into(),
                    actual: HOSTILE.into(),
                }],
                unmatched: vec![HOSTILE.into(), "second".into()],
            },
        ));
    }
    v.push(ev(
        0.4,
        EventKind::Log {
            at: at.clone(),
            text: HOSTILE.into(),
        },
    ));
    v.push(ev(
        0.5,
        EventKind::CaseFinished {
            case: id.into(),
            verdict,
            reason: reason.map(String::from),
            duration_ms: 12.5,
            deviation: deviation.map(String::from),
        },
    ));
    v
}

/// Every verdict and deviation combination, in two suites.
fn events() -> Vec<RunEvent> {
    let mut v = vec![ev(
        0.0,
        EventKind::RunStarted {
            version: 1,
            run_id: "r1".into(),
            target: "dnsmasq <&>".into(),
            adapter: "raw".into(),
            cases: 7,
            seed: 1,
            started_unix_ms: 0,
        },
    )];
    v.extend(case(
        "ok",
        "rfc2131-4.3.1",
        Verdict::Pass,
        None,
        None,
        false,
    ));
    v.extend(case(
        "bad",
        "rfc2131-4.3.1",
        Verdict::Fail,
        Some(HOSTILE),
        None,
        true,
    ));
    v.extend(case(
        "maybe",
        "rfc2131-4.3.1",
        Verdict::Inconc,
        Some(HOSTILE),
        None,
        true,
    ));
    v.extend(case(
        "broken",
        "rfc2132",
        Verdict::Error,
        Some(HOSTILE),
        None,
        false,
    ));
    v.extend(case(
        "known",
        "rfc2132",
        Verdict::Fail,
        Some(HOSTILE),
        Some(HOSTILE),
        true,
    ));
    v.extend(case(
        "xpass",
        "rfc2132",
        Verdict::Pass,
        None,
        Some(HOSTILE),
        false,
    ));
    v.extend(case("silent", "rfc2132", Verdict::None, None, None, false));
    v.push(ev(
        1.0,
        EventKind::RunFinished {
            counts: Counts::default(),
            duration_ms: 1000.0,
        },
    ));
    v
}

/// Writes a line straight to stderr, so a skip is visible without `--nocapture`.
fn loud(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn xmllint() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|d| d.join("xmllint"))
        .find(|p| p.is_file())
}

fn schema() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/junit.xsd")
}

/// Validates `xml` against the schema: Ok, or xmllint's complaints.
fn validate(bin: &Path, name: &str, xml: &str) -> Result<(), String> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("junit-xsd");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}-{}.xml", std::process::id()));
    std::fs::write(&file, xml).unwrap();
    let out = Command::new(bin)
        .arg("--noout")
        .arg("--schema")
        .arg(schema())
        .arg(&file)
        .output()
        .expect("failed to run xmllint");
    let _ = std::fs::remove_file(&file);
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[test]
fn junit_output_validates_against_the_junit_xsd() {
    let Some(bin) = xmllint() else {
        loud("SKIPPED: JUnit XSD validation because xmllint is not installed (apt-get install libxml2-utils, or ci/install-report-tools.sh)");
        return;
    };
    // The schema is enforced at all: a document with typed-attribute errors is rejected.
    let bad = r#"<testsuites><testsuite name="s" tests="many"><testcase time="-1"/></testsuite></testsuites>"#;
    let err = validate(&bin, "negative-control", bad)
        .expect_err("xmllint accepted an invalid JUnit document");
    assert!(
        err.contains("tests") && err.contains("time") && err.contains("name"),
        "unexpected complaints: {err}"
    );

    let run = RunRecord::from_events(events().iter());
    for (label, policy) in [
        ("inconc-fail", InconcPolicy::Fail),
        ("inconc-pass", InconcPolicy::Pass),
        ("inconc-skip", InconcPolicy::Skip),
    ] {
        let xml = junit::render(&run, policy).expect("render JUnit");
        if let Err(e) = validate(&bin, label, &xml) {
            panic!(
                "JUnit ({label}) does not validate against {}:\n{e}\n--- document ---\n{xml}",
                schema().display()
            );
        }
        // Sanity beyond the schema: every case is a testcase, and no raw control character
        // (invalid in XML 1.0) made it through.
        assert_eq!(xml.matches("<testcase ").count(), 7, "{label}");
        assert!(
            !xml.contains('\u{0}') && !xml.contains('\u{1b}') && !xml.contains('\u{7}'),
            "{label}: control characters in XML"
        );
    }
}

#[test]
fn empty_run_validates_too() {
    let Some(bin) = xmllint() else {
        loud("SKIPPED: JUnit XSD validation (empty run) because xmllint is not installed (apt-get install libxml2-utils, or ci/install-report-tools.sh)");
        return;
    };
    let run = RunRecord::from_events([].iter());
    let xml = junit::render(&run, InconcPolicy::Fail).expect("render JUnit");
    validate(&bin, "empty", &xml)
        .unwrap_or_else(|e| panic!("empty JUnit does not validate:\n{e}\n{xml}"));
}
