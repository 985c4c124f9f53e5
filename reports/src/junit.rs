//! JUnit XML for CI: suite → testsuite, case → testcase; fail → failure, error → error,
//! inconc → failure unless the policy says pass or skip; spec, level and tags as properties;
//! the mismatch report and case log in system-out.

use crate::aggregate::{InconcPolicy, RunRecord};
use conform_model::Verdict;
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use std::collections::BTreeMap;
use std::time::Duration;

pub fn render(run: &RunRecord, inconc: InconcPolicy) -> Result<String, String> {
    let mut report = Report::new("conform");
    report.set_time(Duration::from_secs_f64(run.duration_ms.max(0.0) / 1000.0));
    let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
    for c in &run.cases {
        let status = match (c.verdict, &c.deviation) {
            (Verdict::Pass, None) => TestCaseStatus::success(),
            (Verdict::Pass, Some(dev)) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(format!(
                    "unexpected pass: target `{}` records a deviation ({dev}); update its profile",
                    run.target
                ));
                s.set_type("xpass");
                s
            }
            (Verdict::Fail | Verdict::Inconc, Some(dev)) => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(format!("known deviation of target `{}`: {dev}", run.target));
                s
            }
            (Verdict::Inconc, _) if inconc == InconcPolicy::Pass => TestCaseStatus::success(),
            (Verdict::Inconc, _) if inconc == InconcPolicy::Skip => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(format!(
                    "inconclusive: {}",
                    c.reason.clone().unwrap_or_default()
                ));
                s
            }
            (v, _) => {
                let kind = if v == Verdict::Error {
                    NonSuccessKind::Error
                } else {
                    NonSuccessKind::Failure
                };
                let mut s = TestCaseStatus::non_success(kind);
                let msg = match v {
                    Verdict::None => "no verdict was set".to_string(),
                    _ => format!("{v}: {}", c.reason.clone().unwrap_or_default()),
                };
                s.set_message(msg);
                s.set_type(v.as_str());
                let mm = c.mismatch_text();
                if !mm.is_empty() {
                    s.set_description(mm);
                }
                s
            }
        };
        let mut tc = TestCase::new(c.id.as_str(), status);
        tc.set_classname(c.suite.as_str());
        tc.set_time(Duration::from_secs_f64(c.duration_ms.max(0.0) / 1000.0));
        tc.add_property(Property::new("spec", c.spec.as_str()));
        tc.add_property(Property::new("level", c.level.as_str()));
        tc.add_property(Property::new("verdict", c.verdict.as_str()));
        if !c.tags.is_empty() {
            tc.add_property(Property::new("tags", c.tags.join(",")));
        }
        let mut out = format!(
            "{}\n{} ({})\n\"{}\"\n\n",
            c.title,
            c.spec,
            c.level,
            c.text.trim()
        );
        out.push_str(&c.mismatch_text());
        out.push_str(&c.log.join("\n"));
        tc.set_system_out(out);
        suites
            .entry(c.suite.as_str())
            .or_insert_with(|| TestSuite::new(c.suite.as_str()))
            .add_test_case(tc);
    }
    for (_, s) in suites {
        report.add_test_suite(s);
    }
    report
        .to_string()
        .map_err(|e| format!("failed to write JUnit XML: {e}"))
}
