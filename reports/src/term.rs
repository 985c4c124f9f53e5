//! The terminal report: one line per finished case, mismatch diffs for failures, a summary.

use crate::aggregate::{CaseRecord, InconcPolicy, RunRecord};
use conform_model::Verdict;

/// Colours only when writing to a terminal.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, v: Verdict, s: &str) -> String {
        if !self.color {
            return s.to_string();
        }
        let code = match v {
            Verdict::Pass => "32",
            Verdict::Inconc => "33",
            Verdict::Fail => "31",
            Verdict::Error => "35",
            Verdict::None => "90",
        };
        format!("\x1b[{code}m{s}\x1b[0m")
    }
}

/// One line for a finished case.
pub fn case_line(c: &CaseRecord, style: Style) -> String {
    let label = match (&c.deviation, c.verdict) {
        (Some(_), Verdict::Fail | Verdict::Inconc) => "DEVIATION".to_string(),
        (Some(_), Verdict::Pass) => "XPASS".to_string(),
        _ => c.verdict.as_str().to_uppercase(),
    };
    let reason = match (&c.deviation, &c.reason) {
        (Some(_), _) if c.verdict == Verdict::Pass => {
            "  (passes, but the target profile records a deviation: update the profile)".to_string()
        }
        (Some(d), _) => format!("  (known deviation: {d})"),
        (None, Some(r)) if c.verdict != Verdict::Pass => format!("  ({r})"),
        _ => String::new(),
    };
    // Pad before painting: escape codes must not count towards the column width.
    let label = style.paint(c.verdict, &format!("{label:>9}"));
    format!(
        "{label} {:>7.0}ms  {}  [{}]{}",
        c.duration_ms, c.id, c.spec, reason
    )
}

/// The closing summary, with mismatch diffs for every failed case.
pub fn summary(run: &RunRecord, inconc: InconcPolicy, style: Style) -> String {
    let mut out = String::new();
    let failed: Vec<&CaseRecord> = run.cases.iter().filter(|c| !c.gate_ok(inconc)).collect();
    if !failed.is_empty() {
        out.push_str("\nFailures:\n");
        for c in &failed {
            out.push_str(&format!(
                "\n--- {} [{}] {} ---\n",
                c.id,
                c.spec,
                style.paint(c.verdict, c.verdict.as_str())
            ));
            if let Some(r) = &c.reason {
                out.push_str(&format!("  reason: {r}\n"));
            }
            for l in c.mismatch_text().lines() {
                out.push_str(&format!("  {l}\n"));
            }
        }
    }
    let n = run.counts();
    out.push_str(&format!(
        "\n{} cases: {} pass, {} fail ({} known deviations), {} inconc, {} error, {} none  in {:.1}s\n",
        n.total(),
        n.pass,
        n.fail,
        n.deviations,
        n.inconc,
        n.error,
        n.none,
        run.duration_ms / 1000.0
    ));
    let passed = run.cases.iter().filter(|c| c.gate_ok(inconc)).count();
    out.push_str(&format!(
        "{} passed, {} failed\n",
        passed,
        run.cases.len() - passed
    ));
    out
}
