//! Expected-results baselines (osmo-ttcn3-hacks keeps one by hand; conform ships it): the gate
//! fails only on regressions (a case that passed now does not) and new failures (a case not in
//! the baseline that does not pass); a failure that now passes is reported as fixed with a hint
//! to update the baseline. Baselines are per target: one file holds every target's verdicts.

use crate::aggregate::RunRecord;
use conform_model::Verdict;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const BASELINE_VERSION: u32 = 1;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    pub version: u32,
    /// target → case id → expected verdict.
    pub targets: BTreeMap<String, BTreeMap<String, Verdict>>,
}

/// How a run differs from its baseline.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    pub target: String,
    /// (case, expected, actual): expected pass, now worse.
    pub regressions: Vec<(String, Verdict, Verdict)>,
    /// (case, actual): not in the baseline and not a pass.
    pub new_failures: Vec<(String, Verdict)>,
    /// (case, expected): expected a failure, now passes.
    pub fixed: Vec<(String, Verdict)>,
    /// Failures that the baseline expects.
    pub expected_failures: usize,
    /// Cases in the baseline that this run did not execute (filtered or sharded out).
    pub not_run: usize,
}

impl Comparison {
    pub fn gate_ok(&self) -> bool {
        self.regressions.is_empty() && self.new_failures.is_empty()
    }

    pub fn render(&self) -> String {
        let mut out = format!("\nBaseline comparison for target `{}`:\n", self.target);
        for (c, was, now) in &self.regressions {
            out.push_str(&format!("  REGRESSION  {c}: expected {was}, now {now}\n"));
        }
        for (c, now) in &self.new_failures {
            out.push_str(&format!("  NEW FAILURE {c}: {now} (not in the baseline)\n"));
        }
        for (c, was) in &self.fixed {
            out.push_str(&format!("  FIXED       {c}: was {was}, now pass\n"));
        }
        out.push_str(&format!(
            "  {} regression(s), {} new failure(s), {} fixed, {} expected failure(s), {} baseline case(s) not run\n",
            self.regressions.len(),
            self.new_failures.len(),
            self.fixed.len(),
            self.expected_failures,
            self.not_run
        ));
        if !self.fixed.is_empty() {
            out.push_str("  hint: record the fixes with `conform baseline update --from EVENTS.jsonl --baseline FILE`\n");
        }
        out
    }
}

impl Baseline {
    pub fn load(path: &std::path::Path) -> Result<Baseline, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read baseline {}: {e}", path.display()))?;
        let b: Baseline = serde_json::from_str(&text)
            .map_err(|e| format!("baseline {} is not valid: {e}", path.display()))?;
        if b.version != BASELINE_VERSION {
            return Err(format!(
                "baseline {} has version {}, this conform reads version {BASELINE_VERSION}",
                path.display(),
                b.version
            ));
        }
        Ok(b)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Compares a run with this baseline's entry for the run's target.
    pub fn compare(&self, run: &RunRecord) -> Comparison {
        let empty = BTreeMap::new();
        let expected = self.targets.get(&run.target).unwrap_or(&empty);
        let mut c = Comparison {
            target: run.target.clone(),
            ..Comparison::default()
        };
        for case in run.cases.iter().filter(|c| c.finished) {
            let now = case.verdict;
            match expected.get(&case.id) {
                Some(&was) if was == Verdict::Pass && now != Verdict::Pass => {
                    c.regressions.push((case.id.clone(), was, now))
                }
                Some(&was) if was != Verdict::Pass && now == Verdict::Pass => {
                    c.fixed.push((case.id.clone(), was))
                }
                // A different failure kind is still a change worth gating on when it got worse.
                Some(&was) if was != Verdict::Pass && now > was => {
                    c.regressions.push((case.id.clone(), was, now))
                }
                Some(_) if now != Verdict::Pass => c.expected_failures += 1,
                Some(_) => {}
                None if now != Verdict::Pass => c.new_failures.push((case.id.clone(), now)),
                None => {}
            }
        }
        let ran: std::collections::HashSet<&str> =
            run.cases.iter().map(|c| c.id.as_str()).collect();
        c.not_run = expected
            .keys()
            .filter(|k| !ran.contains(k.as_str()))
            .count();
        c
    }

    /// Records the run's verdicts as the expectation for its target (cases not run are kept).
    pub fn update(&mut self, run: &RunRecord) {
        self.version = BASELINE_VERSION;
        let t = self.targets.entry(run.target.clone()).or_default();
        for case in run.cases.iter().filter(|c| c.finished) {
            t.insert(case.id.clone(), case.verdict);
        }
    }
}
