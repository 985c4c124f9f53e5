//! Folds an event stream into per-case records that the reports render.

use conform_model::event::{Counts, EventKind, RunEvent};
use conform_model::{Mismatch, Verdict};
use std::collections::HashMap;

/// How `inconc` counts for pass/fail decisions (exit code, JUnit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InconcPolicy {
    /// `inconc` is a failure (the default: a gate must not turn inconclusive into green).
    #[default]
    Fail,
    Pass,
    Skip,
}

/// A receive or alt that ended without its message: what was expected, the closest message
/// and every field that differed, and the messages that matched nothing.
#[derive(Clone, Debug, Default)]
pub struct MismatchRecord {
    pub template: String,
    pub closest: Option<String>,
    pub mismatches: Vec<Mismatch>,
    pub unmatched: Vec<String>,
}

/// Everything known about one case after a run.
#[derive(Clone, Debug, Default)]
pub struct CaseRecord {
    pub id: String,
    pub title: String,
    pub suite: String,
    pub file: String,
    pub spec: String,
    pub level: String,
    pub text: String,
    pub tags: Vec<String>,
    pub verdict: Verdict,
    pub reason: Option<String>,
    pub duration_ms: f64,
    pub deviation: Option<String>,
    /// Mismatch reports in order.
    pub mismatches: Vec<MismatchRecord>,
    /// A readable log of the case: sent, received, matched, timeouts, verdicts.
    pub log: Vec<String>,
    pub finished: bool,
}

/// A whole run.
#[derive(Clone, Debug, Default)]
pub struct RunRecord {
    pub run_id: String,
    pub target: String,
    pub adapter: String,
    pub seed: u64,
    pub cases: Vec<CaseRecord>,
    pub duration_ms: f64,
}

impl RunRecord {
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a RunEvent>) -> RunRecord {
        let mut r = RunRecord::default();
        let mut idx: HashMap<String, usize> = HashMap::new();
        for e in events {
            let t = e.t_ms;
            match &e.kind {
                EventKind::RunStarted {
                    run_id,
                    target,
                    adapter,
                    seed,
                    ..
                } => {
                    r.run_id = run_id.clone();
                    r.target = target.clone();
                    r.adapter = adapter.clone();
                    r.seed = *seed;
                }
                EventKind::CaseStarted {
                    case,
                    title,
                    suite,
                    file,
                    spec,
                    level,
                    text,
                    tags,
                } => {
                    idx.insert(case.clone(), r.cases.len());
                    r.cases.push(CaseRecord {
                        id: case.clone(),
                        title: title.clone(),
                        suite: suite.clone(),
                        file: file.clone(),
                        spec: spec.clone(),
                        level: level.clone(),
                        text: text.clone(),
                        tags: tags.clone(),
                        ..CaseRecord::default()
                    });
                }
                EventKind::Sent {
                    at,
                    template,
                    summary,
                    ..
                } => {
                    if let Some(c) = idx.get(&at.case).map(|&i| &mut r.cases[i]) {
                        c.log.push(format!(
                            "{t:9.1} ms  {:<8} --> {summary}   (template {template})",
                            at.component
                        ));
                    }
                }
                EventKind::Received { at, summary, .. } => {
                    if let Some(c) = idx.get(&at.case).map(|&i| &mut r.cases[i]) {
                        c.log
                            .push(format!("{t:9.1} ms  {:<8} <-- {summary}", "server"));
                    }
                }
                EventKind::Matched {
                    at,
                    template,
                    captured,
                    ..
                } => {
                    if let Some(c) = idx.get(&at.case).map(|&i| &mut r.cases[i]) {
                        let caps = if captured.is_empty() {
                            String::new()
                        } else {
                            format!(
                                " capture {}",
                                captured
                                    .iter()
                                    .map(|(k, v)| format!("{k}={v}"))
                                    .collect::<Vec<_>>()
                                    .join(" ")
                            )
                        };
                        c.log.push(format!(
                            "{t:9.1} ms  {:<8}     matched `{template}`{caps}",
                            at.component
                        ));
                    }
                }
                EventKind::Mismatch {
                    at,
                    template,
                    closest,
                    mismatches,
                    unmatched,
                } => {
                    if let Some(c) = idx.get(&at.case).map(|&i| &mut r.cases[i]) {
                        c.mismatches.push(MismatchRecord {
                            template: template.clone(),
                            closest: closest.clone(),
                            mismatches: mismatches.clone(),
                            unmatched: unmatched.clone(),
                        });
                    }
                }
                EventKind::Timeout { at, timer } => {
                    if let Some(c) = idx.get(&at.case).map(|&i| &mut r.cases[i]) {
                        c.log.push(format!(
                            "{t:9.1} ms  {:<8}     timeout `{timer}`",
                            at.component
                        ));
                    }
                }
                EventKind::VerdictSet {
                    at,
                    verdict,
                    reason,
                } => {
                    if let Some(c) = idx.get(&at.case).map(|&i| &mut r.cases[i]) {
                        let why = reason
                            .as_deref()
                            .map(|s| format!(": {s}"))
                            .unwrap_or_default();
                        c.log.push(format!(
                            "{t:9.1} ms  {:<8}     setverdict({verdict}){why}",
                            at.component
                        ));
                    }
                }
                EventKind::Log { at, text } => {
                    if let Some(c) = idx.get(&at.case).map(|&i| &mut r.cases[i]) {
                        c.log
                            .push(format!("{t:9.1} ms  {:<8}     log: {text}", at.component));
                    }
                }
                EventKind::AdapterError { at, message } => {
                    if let Some(c) = idx.get(&at.case).map(|&i| &mut r.cases[i]) {
                        c.log.push(format!("{t:9.1} ms  adapter error: {message}"));
                    }
                }
                EventKind::CaseFinished {
                    case,
                    verdict,
                    reason,
                    duration_ms,
                    deviation,
                } => {
                    if let Some(c) = idx.get(case).map(|&i| &mut r.cases[i]) {
                        c.verdict = *verdict;
                        c.reason = reason.clone();
                        c.duration_ms = *duration_ms;
                        c.deviation = deviation.clone();
                        c.finished = true;
                    }
                }
                EventKind::RunFinished { duration_ms, .. } => r.duration_ms = *duration_ms,
            }
        }
        r
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for k in self.cases.iter().filter(|k| k.finished) {
            c.add(k.verdict, k.deviation.is_some());
        }
        c
    }
}

impl CaseRecord {
    /// Whether the case counts as passed for the gate. A known deviation of the target
    /// (recorded in its profile with a reason) does not fail the gate; it is reported as such.
    pub fn gate_ok(&self, inconc: InconcPolicy) -> bool {
        match self.verdict {
            // A pass where the profile records a deviation differs from the expectations:
            // the server changed (or the case did); the profile must be updated.
            Verdict::Pass => self.deviation.is_none(),
            Verdict::Fail => self.deviation.is_some(),
            // An inconclusive case the profile records (a precondition this server cannot be
            // configured for) is expected too.
            Verdict::Inconc => inconc != InconcPolicy::Fail || self.deviation.is_some(),
            Verdict::None | Verdict::Error => false,
        }
    }

    /// The mismatch report as text (packetdrill style), for terminals and JUnit system-out.
    pub fn mismatch_text(&self) -> String {
        let mut out = String::new();
        for MismatchRecord {
            template,
            closest,
            mismatches: mms,
            unmatched,
        } in &self.mismatches
        {
            match closest {
                Some(cl) => {
                    out.push_str(&format!("expected `{template}`; closest message: {cl}\n"));
                    for m in mms {
                        out.push_str(&format!(
                            "    {}: expected {}, actual {}\n",
                            m.path, m.expected, m.actual
                        ));
                    }
                }
                None => out.push_str(&format!("expected `{template}`; no message arrived\n")),
            }
            if unmatched.len() > 1 || (unmatched.len() == 1 && closest.is_none()) {
                out.push_str(&format!(
                    "  {} message(s) arrived and matched nothing:\n",
                    unmatched.len()
                ));
                for u in unmatched {
                    out.push_str(&format!("    {u}\n"));
                }
            }
        }
        out
    }
}
