//! The campaign: generate, execute, judge, and for each new kind of misbehaviour confirm it,
//! shrink it against the live server, re-check the minimal case and write it as a regression.
//!
//! Reproducibility: case `i` of seed `s` is generated from its own RNG (ChaCha seeded from
//! `(s, i)`), so a finding names `--seed s --replay i` and shrinking one case never changes the
//! cases after it. Shrinking is proptest's own (`TestRunner::run_one` on the case's value
//! tree), with the server in the loop: each simplification is executed and kept only if it
//! shows the same signature again.
//!
//! Memory: nothing grows with the number of cases. Per case the observation is dropped after
//! judging; the campaign keeps counters, the set of signatures seen (bounded by the oracles'
//! vocabulary) and at most `max_findings` findings.

use crate::case::FuzzCase;
use crate::diff;
use crate::exec::{ExecError, Executor, Frame, Observation};
use crate::gen::case_strategy;
use crate::oracle::{check_reply, type_name, validity, Oracle, RequestFacts, Violation};
use crate::regress::{self, RegressionInput};
use conform_codec::Datagram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How a campaign runs.
#[derive(Clone, Debug)]
pub struct CampaignConfig {
    pub seed: u64,
    /// Stop after this many cases.
    pub cases: Option<u64>,
    /// Stop after this much time.
    pub time: Option<Duration>,
    /// Stop after this many findings (each distinct signature is one finding).
    pub max_findings: usize,
    /// Shrinking budget per finding: executions and wall time.
    pub shrink_iters: u32,
    pub shrink_time: Duration,
    /// Settle time of confirming and re-checking executions (late replies count there).
    pub confirm_settle: Duration,
    /// Re-checks of the minimal case.
    pub rechecks: u32,
    /// Where regression cases go; `None` writes none.
    pub regressions: Option<PathBuf>,
    /// Signature prefixes not reported (known deviations).
    pub ignore: Vec<String>,
    /// Show a progress bar on a terminal (and a status line every 10 s otherwise).
    pub progress: bool,
    /// Print findings as they are found.
    pub print: bool,
    /// How the user named the target (for replay hints in regression cases).
    pub target_spec: String,
    /// Cases in flight at once (each with its own canary); 1 runs them one by one.
    pub pipeline: usize,
}

impl Default for CampaignConfig {
    fn default() -> Self {
        CampaignConfig {
            seed: 0,
            cases: Some(1000),
            time: None,
            max_findings: 20,
            shrink_iters: 400,
            shrink_time: Duration::from_secs(120),
            confirm_settle: Duration::from_millis(300),
            rechecks: 3,
            regressions: None,
            ignore: Vec::new(),
            progress: false,
            print: true,
            target_spec: String::new(),
            pipeline: 16,
        }
    }
}

/// One distinct misbehaviour, shrunk.
#[derive(Clone, Debug)]
pub struct Finding {
    pub signature: String,
    pub oracle: Oracle,
    /// What the minimal case showed.
    pub detail: String,
    pub seed: u64,
    pub case_index: u64,
    pub original: FuzzCase,
    pub minimal: FuzzCase,
    /// The minimal message as last sent.
    pub request: Datagram,
    pub diff: Vec<String>,
    /// The first execution of the original case showed it again.
    pub confirmed: bool,
    /// Executions spent shrinking.
    pub shrink_steps: u32,
    /// Re-checks of the minimal case that showed it, out of `rechecks`.
    pub reproduced: (u32, u32),
    pub regression: Option<(PathBuf, PathBuf)>,
    pub frames: Vec<Frame>,
}

/// Two servers decided differently on the same input (for triage, not a verdict).
#[derive(Clone, Debug)]
pub struct Divergence {
    pub signature: String,
    pub case_index: u64,
    pub minimal: FuzzCase,
    pub request: Datagram,
    pub diff: Vec<String>,
    pub outcome_a: String,
    pub outcome_b: String,
    pub count: u64,
}

/// What a campaign did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub seed: u64,
    pub target: String,
    pub against: Option<String>,
    pub cases: u64,
    pub duration: Duration,
    /// Executions including canaries' cases, shrinking and re-checks.
    pub executions: u64,
    pub findings: Vec<Finding>,
    pub divergences: Vec<Divergence>,
    /// Hits per signature (first hit included), findings and ignored ones alike.
    pub hits: BTreeMap<String, u64>,
    pub ignored: u64,
    pub slow_canaries: u64,
    pub restarts: u64,
    pub interrupted: bool,
    /// VmRSS and VmHWM in KiB at start and end.
    pub rss_start: (u64, u64),
    pub rss_end: (u64, u64),
    /// CPU time (user + system) over the campaign: the managed server's, and conform's own.
    /// A server near one core (it is single-threaded) means the campaign is server-bound.
    pub server_cpu: Option<Duration>,
    pub own_cpu: Duration,
}

/// User + system CPU time of a process, from /proc/PID/stat (clock ticks of 1/100 s).
pub fn cpu_time(pid: &str) -> Option<Duration> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

impl Report {
    pub fn rate(&self) -> f64 {
        self.cases as f64 / self.duration.as_secs_f64().max(1e-9)
    }
}

/// VmRSS and VmHWM (peak) of this process, KiB.
pub fn rss_kib() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let get = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (get("VmRSS:"), get("VmHWM:"))
}

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The RNG of case `index` of campaign `seed`.
pub fn rng_for(seed: u64, index: u64) -> TestRng {
    let mut x = seed ^ splitmix(&mut index.wrapping_add(0x5eed));
    let mut bytes = [0u8; 32];
    for c in bytes.chunks_mut(8) {
        c.copy_from_slice(&splitmix(&mut x).to_le_bytes());
    }
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

/// proptest's own limits stay out of the way (they print a notice when hit); the campaign
/// enforces its budget in the test closure instead.
fn runner_config() -> Config {
    // Config::default() reads PROPTEST_* variables each time: build it once.
    static CONFIG: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| Config {
            failure_persistence: None,
            max_shrink_iters: u32::MAX,
            max_shrink_time: 0,
            ..Config::default()
        })
        .clone()
}

/// Case `index` of campaign `seed` (no server needed).
pub fn generate(seed: u64, index: u64) -> FuzzCase {
    thread_local! {
        static STRATEGY: BoxedStrategy<FuzzCase> = case_strategy();
    }
    let s = STRATEGY.with(|s| s.clone());
    let mut r = TestRunner::new_with_rng(runner_config(), rng_for(seed, index));
    match s.new_tree(&mut r) {
        Ok(t) => t.current(),
        Err(e) => panic!("the fuzz strategy rejected its own input: {e}"),
    }
}

/// Every violation of one execution, one per signature.
pub fn judge(obs: &Observation, env: &crate::case::Env) -> Vec<Violation> {
    let facts = RequestFacts::new(&obs.request.payload);
    let mut v: Vec<Violation> = Vec::new();
    if let Some(l) = &obs.liveness {
        v.push(l.clone());
    }
    for r in &obs.replies {
        v.extend(check_reply(&facts, &r.datagram, env));
    }
    if obs.liveness.is_none() && validity(&obs.request.payload, env).is_ok() {
        let offered = obs.replies.iter().any(|r| {
            let rf = RequestFacts::new(&r.datagram.payload);
            rf.repr.op == 2 && rf.mtype == Some(2)
        });
        if !offered {
            v.push(Violation::new(
                Oracle::NoOffer,
                "",
                "a well-formed DHCPDISCOVER got no DHCPOFFER (the canary behind it was answered)",
            ));
        }
    }
    let mut seen = HashSet::new();
    v.retain(|x| seen.insert(x.signature.clone()));
    v
}

/// The accept/reject decision of a server on one input, for differential testing.
pub fn outcome(obs: &Observation) -> String {
    if let Some(l) = &obs.liveness {
        return format!("stopped serving ({})", l.oracle.name());
    }
    let mut types: Vec<String> = obs
        .replies
        .iter()
        .map(|r| {
            let f = RequestFacts::new(&r.datagram.payload);
            type_name(f.mtype)
        })
        .collect();
    types.sort();
    types.dedup();
    if types.is_empty() {
        "silence".into()
    } else {
        types.join("+")
    }
}

/// Simpler variants of `c`, one change each: drop a mutation, drop an option, take the
/// relay path away, clear header oddities, use a plain chaddr.
pub fn polish_candidates(c: &FuzzCase) -> Vec<FuzzCase> {
    let mut v = Vec::new();
    for i in (0..c.mutations.len()).rev() {
        let mut x = c.clone();
        x.mutations.remove(i);
        v.push(x);
    }
    for i in (0..c.options.len()).rev() {
        let mut x = c.clone();
        x.options.remove(i);
        v.push(x);
    }
    if c.relay.is_some() {
        let mut x = c.clone();
        x.relay = None;
        x.options.retain(|o| o.code != 82);
        v.push(x);
    }
    if !c.broadcast || c.mbz != 0 || c.secs != 0 {
        let mut x = c.clone();
        x.broadcast = true;
        x.mbz = 0;
        x.secs = 0;
        v.push(x);
    }
    if c.chaddr != [2, 0, 0, 0, 0, 1] {
        let mut x = c.clone();
        x.chaddr = [2, 0, 0, 0, 0, 1];
        v.push(x);
    }
    // Option data: keep the first half, or the second half.
    for (i, o) in c.options.iter().enumerate() {
        if let crate::case::Val::Bytes(b) = &o.val {
            if b.len() >= 2 {
                let h = b.len() / 2;
                for part in [&b[..h], &b[h..]] {
                    let mut x = c.clone();
                    x.options[i].val = crate::case::Val::Bytes(part.to_vec());
                    v.push(x);
                }
            }
        }
    }
    v
}

/// A shrinking test: the failure detail when the case (at shrink step `n`) still shows the
/// misbehaviour, `None` when it does not.
type ShrinkTest<'t> = dyn Fn(&FuzzCase, u32) -> Result<Option<String>, ExecError> + 't;

struct Shrunk {
    confirmed: bool,
    minimal: FuzzCase,
    steps: u32,
}

/// The value tree of case `index` of campaign `seed`.
fn tree_of(
    strategy: &BoxedStrategy<FuzzCase>,
    seed: u64,
    index: u64,
) -> (TestRunner, Box<dyn ValueTree<Value = FuzzCase>>) {
    let mut r = TestRunner::new_with_rng(runner_config(), rng_for(seed, index));
    match strategy.new_tree(&mut r) {
        Ok(t) => (r, t),
        Err(e) => panic!("the fuzz strategy rejected its own input: {e}"),
    }
}

/// Counts the violations of one execution and returns those whose signature is new (and not
/// ignored); they are marked seen.
fn tally(
    report: &mut Report,
    seen: &mut HashSet<String>,
    ignore: &[String],
    vs: Vec<Violation>,
) -> Vec<Violation> {
    let mut fresh = Vec::new();
    for v in vs {
        *report.hits.entry(v.signature.clone()).or_default() += 1;
        if ignore.iter().any(|p| v.signature.starts_with(p.as_str())) {
            report.ignored += 1;
        } else if seen.insert(v.signature.clone()) {
            fresh.push(v);
        }
    }
    fresh
}

/// Cases handed from the stream to the campaign between two log trims (and drains).
const STREAM_CHUNK: u64 = 4096;

/// A running campaign.
pub struct Campaign<'a> {
    pub cfg: CampaignConfig,
    strategy: BoxedStrategy<FuzzCase>,
    stop: &'a AtomicBool,
    bar: Option<ProgressBar>,
    report: Report,
    seen: HashSet<String>,
    seen_div: HashSet<String>,
    unconfirmed: BTreeMap<String, u32>,
}

impl<'a> Campaign<'a> {
    pub fn new(cfg: CampaignConfig, stop: &'a AtomicBool) -> Campaign<'a> {
        Campaign {
            report: Report {
                seed: cfg.seed,
                ..Report::default()
            },
            cfg,
            strategy: case_strategy(),
            stop,
            bar: None,
            seen: HashSet::new(),
            seen_div: HashSet::new(),
            unconfirmed: BTreeMap::new(),
        }
    }

    fn say(&self, text: &str) {
        if !self.cfg.print {
            return;
        }
        match &self.bar {
            Some(b) => b.suspend(|| println!("{text}")),
            None => println!("{text}"),
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn tree(&self, index: u64) -> (TestRunner, Box<dyn ValueTree<Value = FuzzCase>>) {
        tree_of(&self.strategy, self.cfg.seed, index)
    }

    /// Shrinks case `index` with `test` (the failure detail when the case still shows the
    /// misbehaviour). The first call is on the original case: the confirmation.
    fn shrink(&self, index: u64, test: &ShrinkTest<'_>) -> Result<Shrunk, ExecError> {
        let (mut runner, tree) = self.tree(index);
        let original = tree.current();
        let steps = Cell::new(0u32);
        let budget = self.cfg.shrink_iters;
        let started = Instant::now();
        let over = || steps.get() > budget || started.elapsed() > self.cfg.shrink_time;
        let harness: RefCell<Option<ExecError>> = RefCell::new(None);
        // The smallest case seen failing: proptest's tree ends there too, but a budget cut
        // may leave the tree between a failing and a passing value.
        let last_fail: RefCell<Option<FuzzCase>> = RefCell::new(None);
        let res = runner.run_one(tree, |case: FuzzCase| {
            // Past the budget every step passes without touching the network, so proptest
            // winds back to the last failing value quickly.
            if self.stopped() || harness.borrow().is_some() || over() {
                return Ok(());
            }
            let n = steps.get();
            steps.set(n + 1);
            match test(&case, n) {
                Ok(Some(detail)) => {
                    *last_fail.borrow_mut() = Some(case);
                    Err(TestCaseError::fail(detail))
                }
                Ok(None) => Ok(()),
                Err(e) => {
                    *harness.borrow_mut() = Some(e);
                    Ok(())
                }
            }
        });
        if let Some(e) = harness.into_inner() {
            return Err(e);
        }
        let confirmed = matches!(res, Err(TestError::Fail(..)));
        let Some(minimal) = last_fail.into_inner().filter(|_| confirmed) else {
            return Ok(Shrunk {
                confirmed: false,
                minimal: original,
                steps: steps.get(),
            });
        };
        // A structural pass on top of proptest's: whole mutations, options and header
        // oddities out, option data halved, one change at a time, each kept only when the
        // server still shows the same misbehaviour. Restarts from the new best after each
        // success; the budget is shared with proptest's phase.
        let mut best = minimal;
        let mut n = steps.get();
        let limit = budget.saturating_add(budget / 2);
        'round: loop {
            for cand in polish_candidates(&best) {
                if self.stopped() || n >= limit || started.elapsed() > self.cfg.shrink_time {
                    break 'round;
                }
                n += 1;
                if test(&cand, n)?.is_some() {
                    best = cand;
                    continue 'round;
                }
            }
            break;
        }
        Ok(Shrunk {
            confirmed: true,
            minimal: best,
            steps: n,
        })
    }

    /// Executes `case` once and returns the violation with `sig`, recovering the server after a
    /// liveness violation.
    fn probe(
        exec: &mut Executor,
        case: &FuzzCase,
        sig: &str,
        settle: Duration,
    ) -> Result<(Option<Violation>, Observation), ExecError> {
        let saved = exec.cfg.settle;
        exec.cfg.settle = settle;
        let r = exec.run(case);
        exec.cfg.settle = saved;
        let obs = r?;
        let v = judge(&obs, &exec.env);
        if obs.liveness.is_some() {
            exec.recover()?;
        }
        Ok((v.into_iter().find(|x| x.signature == sig), obs))
    }

    /// Confirms, shrinks, re-checks and records a new violation of case `index`.
    fn investigate(
        &mut self,
        exec: &mut Executor,
        index: u64,
        first: &Violation,
    ) -> Result<(), ExecError> {
        let sig = first.signature.clone();
        if let Some(b) = &self.bar {
            b.set_message(format!(
                "{} findings; shrinking {sig}",
                self.report.findings.len()
            ));
        }
        let settle = self.cfg.confirm_settle;
        // While shrinking, a silent server is judged on one shorter canary wait: a hang costs
        // a quarter of the timeout per step instead of four times it. The re-checks below use
        // the full timeouts again.
        let full = exec.cfg;
        exec.cfg.canary_timeout = (full.canary_timeout / 4).max(Duration::from_millis(100));
        exec.cfg.retry_timeout = Duration::ZERO;
        let cell = RefCell::new(&mut *exec);
        let shrunk = self.shrink(index, &|case, n| {
            let mut ex = cell.borrow_mut();
            let s = if n == 0 { settle } else { Duration::ZERO };
            Ok(Self::probe(&mut ex, case, &sig, s)?.0.map(|v| v.detail))
        })?;
        let exec = cell.into_inner();
        exec.cfg = full;
        // Re-check the minimal case with late replies counted, and keep its frames.
        exec.record = true;
        let mut reproduced = 0;
        let mut kept: Option<(Violation, Observation)> = None;
        let mut last_obs = None;
        for _ in 0..self.cfg.rechecks {
            if self.stopped() {
                break;
            }
            let (v, obs) = Self::probe(exec, &shrunk.minimal, &sig, settle)?;
            match v {
                Some(v) => {
                    reproduced += 1;
                    if kept.is_none() {
                        kept = Some((v, obs));
                    }
                }
                None => last_obs = Some(obs),
            }
        }
        exec.record = false;
        let (detail, obs) = match kept {
            Some((v, o)) => (v.detail, Some(o)),
            None => (first.detail.clone(), last_obs),
        };
        let request = obs
            .as_ref()
            .map(|o| o.request.clone())
            .unwrap_or_else(|| shrunk.minimal.encode(&exec.env, 0).datagram);
        let xid = obs.as_ref().map(|o| o.xid).unwrap_or(0);
        let clean = shrunk.minimal.clean().encode(&exec.env, xid).bytes;
        let diff = diff::diff(&clean, &request.payload);
        let frames = obs.map(|o| o.frames).unwrap_or_default();
        let mut f = Finding {
            signature: sig.clone(),
            oracle: first.oracle,
            detail,
            seed: self.cfg.seed,
            case_index: index,
            original: self.tree(index).1.current(),
            minimal: shrunk.minimal,
            request,
            diff,
            confirmed: shrunk.confirmed,
            shrink_steps: shrunk.steps,
            reproduced: (reproduced, self.cfg.rechecks),
            regression: None,
            frames,
        };
        if let Some(dir) = &self.cfg.regressions {
            if f.confirmed && reproduced > 0 {
                let inp = RegressionInput {
                    signature: &f.signature,
                    oracle: f.oracle,
                    detail: &f.detail,
                    target: exec.name(),
                    seed: f.seed,
                    case_index: index,
                    request: &f.request,
                    diff: &f.diff,
                    env: &exec.env,
                    frames: &f.frames,
                    target_spec: if self.cfg.target_spec.is_empty() {
                        exec.name()
                    } else {
                        &self.cfg.target_spec
                    },
                };
                match regress::write(dir, &inp) {
                    Ok(p) => f.regression = Some(p),
                    Err(e) => self.say(&format!("warning: {e}")),
                }
            }
        }
        // An unconfirmed signature (the case did not show it again when run alone) gets up to
        // three more chances from later cases before it is reported as unconfirmed.
        if !f.confirmed {
            let tries = self.unconfirmed.entry(sig.clone()).or_default();
            *tries += 1;
            if *tries < 4 {
                self.seen.remove(&sig);
                return Ok(());
            }
        }
        self.say(&format_finding(self.report.findings.len() + 1, &f));
        self.report.findings.push(f);
        Ok(())
    }

    /// Records and shrinks a new divergence between `a` and `b`.
    fn diverge(
        &mut self,
        a: &mut Executor,
        b: &mut Executor,
        index: u64,
        sig: String,
        outcome_a: String,
        outcome_b: String,
    ) -> Result<(), ExecError> {
        let ca = RefCell::new(&mut *a);
        let cb = RefCell::new(&mut *b);
        let want = (outcome_a.clone(), outcome_b.clone());
        let shrunk = self.shrink(index, &|case, _| {
            let (mut ea, mut eb) = (ca.borrow_mut(), cb.borrow_mut());
            let oa = ea.run(case)?;
            if oa.liveness.is_some() {
                ea.recover()?;
            }
            let ob = eb.run(case)?;
            if ob.liveness.is_some() {
                eb.recover()?;
            }
            let got = (outcome(&oa), outcome(&ob));
            Ok((got == want).then(|| format!("{} vs {}", got.0, got.1)))
        })?;
        let a = ca.into_inner();
        let enc = shrunk.minimal.encode(&a.env, 0);
        let clean = shrunk.minimal.clean().encode(&a.env, 0).bytes;
        let d = Divergence {
            signature: sig,
            case_index: index,
            diff: diff::diff(&clean, &enc.bytes),
            request: enc.datagram,
            minimal: shrunk.minimal,
            outcome_a,
            outcome_b,
            count: 1,
        };
        self.say(&format_divergence(&d, a.name(), b.name()));
        self.report.divergences.push(d);
        Ok(())
    }

    /// Judges one observed case: counts hits, investigates new signatures, and runs the
    /// differential comparison.
    fn judge_case(
        &mut self,
        exec: &mut Executor,
        against: Option<&mut Executor>,
        i: u64,
        case: &FuzzCase,
        obs: &Observation,
    ) -> Result<(), ExecError> {
        let vs = judge(obs, &exec.env);
        let fresh = tally(&mut self.report, &mut self.seen, &self.cfg.ignore, vs);
        for v in fresh {
            if self.report.findings.len() >= self.cfg.max_findings || self.stopped() {
                break;
            }
            self.investigate(exec, i, &v)?;
        }
        if let Some(b) = against {
            let ob = b.run(case)?;
            if ob.liveness.is_some() {
                b.recover()?;
            }
            let (oa, obb) = (outcome(obs), outcome(&ob));
            if oa != obb {
                let f = RequestFacts::new(&obs.request.payload);
                let class = if validity(&obs.request.payload, &exec.env).is_ok() {
                    "valid"
                } else {
                    "invalid"
                };
                let sig = format!("{} {class}: {oa} | {obb}", type_name(f.mtype));
                if let Some(d) = self
                    .report
                    .divergences
                    .iter_mut()
                    .find(|d| d.signature == sig)
                {
                    d.count += 1;
                } else if self.report.divergences.len() < self.cfg.max_findings
                    && self.seen_div.insert(sig.clone())
                    && !self.stopped()
                {
                    self.diverge(exec, b, i, sig, oa, obb)?;
                }
            }
        }
        Ok(())
    }

    /// Runs up to [`STREAM_CHUNK`] cases from `*i` on as a stream (see
    /// [`Executor::run_stream`]), judging each as it completes. A new signature stops the
    /// stream: the cases in flight are finished and judged, then each new signature is
    /// investigated. After a canary went unanswered the server is recovered and the cases not
    /// yet judged run one by one, so a liveness finding is attributed to its case.
    fn stream_chunk(
        &mut self,
        exec: &mut Executor,
        start: Instant,
        i: &mut u64,
        last_status: &mut Instant,
    ) -> Result<(), ExecError> {
        let end = match self.cfg.cases {
            Some(n) => n.min(*i + STREAM_CHUNK),
            None => *i + STREAM_CHUNK,
        };
        let env = exec.env.clone();
        let mut fresh: Vec<(u64, Violation)> = Vec::new();
        let mut judged = 0u64;
        let stalled = {
            let Campaign {
                cfg,
                strategy,
                stop,
                bar,
                report,
                seen,
                ..
            } = &mut *self;
            let cfg = &*cfg;
            let mut next_i = *i;
            let mut next = || {
                if next_i >= end
                    || stop.load(Ordering::SeqCst)
                    || cfg.time.is_some_and(|t| start.elapsed() >= t)
                {
                    return None;
                }
                let idx = next_i;
                next_i += 1;
                Some((idx, tree_of(strategy, cfg.seed, idx).1.current()))
            };
            let done0 = *i;
            let mut done = |idx: u64, obs: Observation| {
                let vs = judge(&obs, &env);
                let new = tally(report, seen, &cfg.ignore, vs);
                judged += 1;
                let total = done0 + judged;
                if let Some(b) = bar {
                    b.inc(1);
                    if total.is_multiple_of(256) {
                        b.set_message(format!(
                            "{:.0} cases/s, {} findings",
                            total as f64 / start.elapsed().as_secs_f64().max(1e-3),
                            report.findings.len()
                        ));
                    }
                } else if cfg.progress && last_status.elapsed() >= Duration::from_secs(10) {
                    *last_status = Instant::now();
                    eprintln!(
                        "conform fuzz: {total} cases, {:.0}/s, {} findings, rss {} KiB",
                        total as f64 / start.elapsed().as_secs_f64(),
                        report.findings.len(),
                        rss_kib().0
                    );
                }
                let more = new.is_empty();
                fresh.extend(new.into_iter().map(|v| (idx, v)));
                more
            };
            exec.run_stream(cfg.pipeline, &mut next, &mut done)?
        };
        *i += judged;
        if !stalled.is_empty() {
            // Start from a server known to serve (a managed one is restarted: it may be hung,
            // not dead) before anything is investigated or re-run.
            if exec.managed() {
                exec.recover()?;
            } else {
                exec.baseline()?;
            }
        }
        for (idx, v) in fresh {
            if self.report.findings.len() >= self.cfg.max_findings || self.stopped() {
                break;
            }
            self.investigate(exec, idx, &v)?;
        }
        for idx in stalled {
            let case = self.tree(idx).1.current();
            let obs = exec.run(&case)?;
            if obs.liveness.is_some() {
                exec.recover()?;
            }
            self.judge_case(exec, None, idx, &case, &obs)?;
            *i += 1;
            if let Some(b) = &self.bar {
                b.inc(1);
            }
        }
        exec.trim_log(64 << 20);
        Ok(())
    }

    /// Runs the campaign against `exec` (and `against`, for differential testing).
    pub fn run(
        mut self,
        exec: &mut Executor,
        mut against: Option<&mut Executor>,
    ) -> Result<Report, ExecError> {
        self.report.rss_start = rss_kib();
        self.report.target = exec.name().to_string();
        self.report.against = against.as_ref().map(|b| b.name().to_string());
        exec.baseline()?;
        if let Some(b) = against.as_deref_mut() {
            b.baseline()?;
        }
        if self.cfg.progress {
            let bar = match self.cfg.cases {
                Some(n) if self.cfg.time.is_none() => ProgressBar::new(n),
                _ => ProgressBar::new_spinner(),
            };
            bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(4));
            let tmpl = if self.cfg.cases.is_some() && self.cfg.time.is_none() {
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} cases, {msg}"
            } else {
                "{spinner} [{elapsed_precise}] {pos} cases, {msg}"
            };
            if let Ok(st) = ProgressStyle::with_template(tmpl) {
                bar.set_style(st);
            }
            bar.set_message("0 findings");
            if !bar.is_hidden() {
                self.bar = Some(bar);
            }
        }
        let server_pid = exec
            .lab()
            .and_then(|l| l.server_pid())
            .map(|p| p.to_string());
        let server_cpu0 = server_pid.as_deref().and_then(cpu_time);
        let own_cpu0 = cpu_time("self").unwrap_or_default();
        let start = Instant::now();
        let mut last_status = Instant::now();
        let mut i: u64 = 0;
        let result = loop {
            if self.stopped() {
                self.report.interrupted = true;
                break Ok(());
            }
            if self.cfg.cases.is_some_and(|n| i >= n)
                || self.cfg.time.is_some_and(|t| start.elapsed() >= t)
                || self.report.findings.len() >= self.cfg.max_findings
            {
                break Ok(());
            }
            // Without a second server: a stream of cases, `pipeline` in flight.
            if against.is_none() && self.cfg.pipeline > 1 {
                if let Err(e) = self.stream_chunk(exec, start, &mut i, &mut last_status) {
                    break Err(e);
                }
                continue;
            }
            // A batch of cases, pipelined; one by one after any liveness doubt.
            let remaining = self.cfg.cases.map_or(u64::MAX, |n| n - i);
            let size = (self.cfg.pipeline.max(1) as u64).min(remaining) as usize;
            let batch: Vec<FuzzCase> = (0..size as u64)
                .map(|k| self.tree(i + k).1.current())
                .collect();
            let observed = if size > 1 {
                match exec.run_batch(&batch) {
                    Ok(o) => o,
                    Err(e) => break Err(e),
                }
            } else {
                None
            };
            let observed = match observed {
                Some(o) => o,
                None => {
                    // Some canary of the batch went unanswered: start from a server known to
                    // serve (a managed one is restarted: it may be hung, not dead), then
                    // re-run the batch one case at a time to see which case did it.
                    let ready = if exec.managed() && size > 1 {
                        exec.recover()
                    } else if size > 1 {
                        exec.baseline()
                    } else {
                        Ok(())
                    };
                    if let Err(e) = ready {
                        break Err(e);
                    }
                    let mut v = Vec::with_capacity(size);
                    let mut err = None;
                    for c in &batch {
                        match exec.run(c) {
                            Ok(o) => {
                                if o.liveness.is_some() {
                                    if let Err(e) = exec.recover() {
                                        err = Some(e);
                                        break;
                                    }
                                }
                                v.push(o);
                            }
                            Err(e) => {
                                err = Some(e);
                                break;
                            }
                        }
                    }
                    if let Some(e) = err {
                        break Err(e);
                    }
                    v
                }
            };
            let mut stop_now = None;
            for (k, (case, obs)) in batch.iter().zip(observed).enumerate() {
                let idx = i + k as u64;
                if let Err(e) = self.judge_case(exec, against.as_deref_mut(), idx, case, &obs) {
                    stop_now = Some(e);
                    break;
                }
            }
            if let Some(e) = stop_now {
                break Err(e);
            }
            i += size as u64;
            if i % 4096 < size as u64 {
                exec.trim_log(64 << 20);
                if let Some(b) = against.as_deref() {
                    b.trim_log(64 << 20);
                }
            }
            if let Some(b) = &self.bar {
                b.inc(size as u64);
                b.set_message(format!(
                    "{:.0} cases/s, {} findings",
                    i as f64 / start.elapsed().as_secs_f64().max(1e-3),
                    self.report.findings.len()
                ));
            } else if self.cfg.progress && last_status.elapsed() >= Duration::from_secs(10) {
                last_status = Instant::now();
                eprintln!(
                    "conform fuzz: {i} cases, {:.0}/s, {} findings, rss {} KiB",
                    i as f64 / start.elapsed().as_secs_f64(),
                    self.report.findings.len(),
                    rss_kib().0
                );
            }
        };
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        self.report.cases = i;
        self.report.duration = start.elapsed();
        self.report.executions = exec.stats.executions;
        self.report.slow_canaries = exec.stats.slow_canaries;
        self.report.restarts = exec.stats.restarts;
        self.report.rss_end = rss_kib();
        self.report.own_cpu = cpu_time("self")
            .unwrap_or_default()
            .saturating_sub(own_cpu0);
        // Only meaningful when the server process is still the one measured at the start.
        let pid_now = exec
            .lab()
            .and_then(|l| l.server_pid())
            .map(|p| p.to_string());
        if pid_now == server_pid {
            if let (Some(a), Some(b)) = (server_cpu0, pid_now.as_deref().and_then(cpu_time)) {
                self.report.server_cpu = Some(b.saturating_sub(a));
            }
        }
        result.map(|()| self.report)
    }
}

/// A finding for the terminal.
pub fn format_finding(n: usize, f: &Finding) -> String {
    let mut s = format!(
        "finding {n}: {} (seed {}, case {})\n  {}\n",
        f.signature, f.seed, f.case_index, f.detail
    );
    if f.confirmed {
        s.push_str(&format!(
            "  shrunk in {} executions; the minimal case showed it again {}/{} times\n",
            f.shrink_steps, f.reproduced.0, f.reproduced.1
        ));
    } else {
        s.push_str("  NOT confirmed: the case did not show it a second time (flaky or timing)\n");
    }
    s.push_str("  minimal message against a clean one of its kind (changed lines):\n");
    for l in f.diff.iter().filter(|l| !l.starts_with("  ")) {
        s.push_str(&format!("    {l}\n"));
    }
    if let Some((y, p)) = &f.regression {
        s.push_str(&format!(
            "  regression case: {} (capture {})\n",
            y.display(),
            p.display()
        ));
    }
    s
}

/// A divergence for the terminal.
pub fn format_divergence(d: &Divergence, a: &str, b: &str) -> String {
    let mut s = format!(
        "divergence: {} (case {})\n  {a}: {}\n  {b}: {}\n  minimal message (changed lines):\n",
        d.signature, d.case_index, d.outcome_a, d.outcome_b
    );
    for l in d.diff.iter().filter(|l| !l.starts_with("  ")) {
        s.push_str(&format!("    {l}\n"));
    }
    s
}
