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
    /// `--partition k/n`.
    pub partition: Option<Partition>,
}

impl Filter {
    pub fn selects(&self, c: &Case) -> bool {
        if let Some(re) = &self.pattern {
            if !re.is_match(&c.id) && !re.is_match(&c.title) {
                return false;
            }
        }
        self.tags.iter().all(|t| c.tags.contains(t))
            && self.partition.is_none_or(|p| p.contains(&c.id))
    }
}

/// `--partition k/n`: this run takes shard `k` of `n` (1-based). A case's shard depends only on
/// its id (FNV-1a), so shards are stable across runs, machines and added cases, and every case
/// lands in exactly one shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    pub k: u32,
    pub n: u32,
}

impl Partition {
    pub fn parse(s: &str) -> Result<Partition, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("--partition `{s}` is not k/n"))?;
        let k: u32 = k
            .trim()
            .parse()
            .map_err(|_| format!("--partition `{s}`: `{k}` is not a number"))?;
        let n: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("--partition `{s}`: `{n}` is not a number"))?;
        if n == 0 || k == 0 || k > n {
            return Err(format!("--partition `{s}`: need 1 <= k <= n"));
        }
        Ok(Partition { k, n })
    }

    pub fn shard_of(id: &str, n: u32) -> u32 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in id.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        (h % u64::from(n)) as u32 + 1
    }

    pub fn contains(&self, id: &str) -> bool {
        Self::shard_of(id, self.n) == self.k
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

/// Runs cases with at most `jobs` at a time. Exclusive cases run alone, one after another, once
/// the shared cases are done: grouping them at the end (instead of a barrier wherever one
/// appears in the plan) keeps the suite's wall time close to its slowest case. Results come
/// back in plan order.
pub async fn run_all(
    plan: Vec<Planned>,
    jobs: usize,
    deviations: &HashMap<String, String>,
) -> RunOutcome {
    let jobs = jobs.max(1);
    let sem = Arc::new(Semaphore::new(jobs));
    let mut handles = Vec::new();
    let mut order: Vec<(usize, Planned)> = plan.into_iter().enumerate().collect();
    order.sort_by_key(|(i, p)| (p.case.exclusive, *i));
    let mut index = Vec::with_capacity(order.len());
    for (i, p) in order {
        index.push(i);
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
    let mut results: Vec<(usize, String, CaseResult, Option<String>)> = Vec::new();
    for (h, i) in handles.into_iter().zip(index) {
        match h.await {
            Ok((id, r, dev)) => {
                out.counts.add(r.verdict, dev.is_some());
                results.push((i, id, r, dev));
            }
            Err(e) => {
                // A panicking case task is a harness bug; report it as error, keep going.
                out.counts.add(Verdict::Error, false);
                results.push((
                    i,
                    "<unknown>".into(),
                    CaseResult {
                        verdict: Verdict::Error,
                        reason: Some(format!("case task failed: {e}")),
                        duration: Default::default(),
                    },
                    None,
                ));
            }
        }
    }
    results.sort_by_key(|r| r.0);
    out.results = results
        .into_iter()
        .map(|(_, id, r, dev)| (id, r, dev))
        .collect();
    out
}

#[cfg(test)]
mod tests {
    use super::Partition;
    use proptest::prelude::*;

    proptest! {
        /// Every case lands in exactly one shard, whatever the ids and the shard count.
        #[test]
        fn every_case_in_exactly_one_shard(ids in proptest::collection::hash_set("[a-z0-9.-]{1,40}", 0..200), n in 1u32..17) {
            for id in &ids {
                let owners = (1..=n).filter(|&k| Partition { k, n }.contains(id)).count();
                prop_assert_eq!(owners, 1);
            }
        }
    }

    #[test]
    fn parse_and_spread() {
        assert_eq!(Partition::parse("2/3"), Ok(Partition { k: 2, n: 3 }));
        assert!(Partition::parse("0/3").is_err());
        assert!(Partition::parse("4/3").is_err());
        assert!(Partition::parse("x").is_err());
        // 300 ids over 3 shards: none empty.
        let mut counts = [0; 3];
        for i in 0..300 {
            counts[(Partition::shard_of(&format!("rfc2131-case-{i}"), 3) - 1) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| c > 50), "{counts:?}");
    }
}
