//! Planning: which cases run (filters), and the schedule (parallel unless exclusive).

use crate::exec::{run_case, CaseEnv, CaseResult};
use conform_model::event::{Counts, EventKind};
use conform_model::suite::Case;
use conform_model::Verdict;
use regex::Regex;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Case selection from the command line.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// `-k PATTERN`: a regular expression searched in the case id and title.
    pub pattern: Option<Regex>,
    /// `--tag T` (repeatable): the case must carry every tag given.
    pub tags: Vec<String>,
}

impl Filter {
    pub fn selects(&self, c: &Case) -> bool {
        if let Some(re) = &self.pattern {
            if !re.is_match(&c.id) && !re.is_match(&c.title) {
                return false;
            }
        }
        self.tags.iter().all(|t| c.tags.contains(t))
    }
}

/// A case with the environment it runs in (its suite's parameters).
pub struct Planned {
    pub case: Arc<Case>,
    pub env: CaseEnv,
}

/// The outcome of a run.
#[derive(Debug, Default)]
pub struct RunOutcome {
    pub counts: Counts,
    pub results: Vec<(String, CaseResult, Option<String>)>,
}

/// Runs cases with at most `jobs` at a time. An exclusive case waits for every running case
/// to finish and runs alone. Results come back in plan order.
pub async fn run_all(plan: Vec<Planned>, jobs: usize, deviations: &HashMap<String, String>) -> RunOutcome {
    let jobs = jobs.max(1);
    let sem = Arc::new(Semaphore::new(jobs));
    let mut handles = Vec::new();
    for p in plan {
        let permits = if p.case.exclusive { jobs as u32 } else { 1 };
        // Acquiring all permits waits for running cases; holding them keeps others out.
        let permit = match sem.clone().acquire_many_owned(permits).await {
            Ok(p) => p,
            Err(_) => break,
        };
        let id = p.case.id.clone();
        let env = p.env.clone();
        let dev = deviations.get(&id).cloned();
        let h = tokio::spawn(async move {
            let r = run_case(p.case, p.env).await;
            // The recorded deviation travels with every outcome: a pass of a case the profile says
            // fails is a difference from the recorded expectations too.
            let deviation = dev;
            env.emitter.emit(EventKind::CaseFinished {
                case: id.clone(),
                verdict: r.verdict,
                reason: r.reason.clone(),
                duration_ms: r.duration.as_secs_f64() * 1000.0,
                deviation: deviation.clone(),
            });
            drop(permit);
            (id, r, deviation)
        });
        handles.push(h);
    }
    let mut out = RunOutcome::default();
    for h in handles {
        match h.await {
            Ok((id, r, dev)) => {
                out.counts.add(r.verdict, dev.is_some());
                out.results.push((id, r, dev));
            }
            Err(e) => {
                // A panicking case task is a harness bug; report it as error, keep going.
                out.counts.add(Verdict::Error, false);
                out.results.push((
                    "<unknown>".into(),
                    CaseResult { verdict: Verdict::Error, reason: Some(format!("case task failed: {e}")), duration: Default::default() },
                    None,
                ));
            }
        }
    }
    out
}
