//! Executing cases: components, alt with snapshot semantics, timers, captures, verdicts.
//!
//! One task per case dispatches every arriving datagram (decoded once) to the case's
//! components; each component runs its steps and keeps a local verdict that only gets worse.
//! The case verdict is the worst over all components. Every action is reported as a
//! `RunEvent` on the events channel; nothing else leaves this module.

use conform_adapters::Adapter;
use conform_codec::{Decoded, Protocol, Value};
use conform_model::event::{At, EventKind, RunEvent, NOT_TIED};
use conform_model::suite::{Branch, BranchOn, Case, Component, Step};
use conform_model::{Env, Template, Verdict};
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Emits events stamped relative to the run's start.
///
/// Events do not reach the channel as they are emitted: they go to the run's outbox, and the
/// outbox is delivered (its lazy events rendered, then sent in order) every [`ANCHOR_PERIOD`]
/// by the run's anchor task, on [`Emitter::deliver`], and when the last emitter of the run is
/// dropped. Why: a case's path to its verdict should hold only the work the verdict needs.
/// Waking the consumer costs a cross-thread wake-up, and summaries and rendered captures cost
/// a few microseconds a message; on a server that answers on loopback in tens of
/// microseconds that was most of conform's per-query overhead (dns_query bench). The outbox
/// moves both off the case's path, onto whichever worker runs the anchor.
///
/// A case's events are also buffered per case and moved to the outbox in one piece when the
/// case ends, so a case's events stay together and in emission order. Invariants: events
/// reach the channel in the order they were emitted (per case: from case start to case end;
/// across cases: in the order the cases ended), and every emitted event is delivered once
/// the run's emitters are gone.
///
/// The emitter is run-scoped, so it also owns the run's [`TimerAnchor`].
#[derive(Clone)]
pub struct Emitter {
    shared: Arc<Shared>,
    buffer: Option<Arc<std::sync::Mutex<Vec<Pending>>>>,
}

/// An event whose costly parts (message summaries, rendered captures) are computed when the
/// outbox is delivered. It owns what it needs and never refers back to the emitter.
type LazyKind = Box<dyn FnOnce() -> EventKind + Send>;

/// An event waiting in a buffer or the outbox. Lazy ones are stamped with the clock's
/// reading and made relative to the run's start when delivered.
enum Pending {
    Ready(Box<RunEvent>),
    Lazy(Instant, LazyKind),
    /// The events every case emits, held inline with what rendering them needs. They were
    /// five boxed closures a plain case; now only a sent datagram is boxed (inline it would
    /// double every entry's size).
    Step(Instant, StepEvent),
}

/// What ties an arriving message to a case: see [`Emitter::sent_ties`].
#[derive(Default)]
struct Ties {
    keys: Vec<u64>,
    connections: Vec<String>,
}

impl Ties {
    /// Whether `m` belongs to the case: it carries one of the case's keys, or it is the
    /// `closed` pseudo-message of one of the case's TCP connections. `None` when the case sent
    /// nothing keyed, so nothing can be told apart.
    fn tied(&self, proto: &dyn Protocol, m: &Msg) -> Option<bool> {
        if self.keys.is_empty() {
            return None;
        }
        let Some(d) = m.datagram() else {
            return Some(false);
        };
        if let Some(k) = proto.correlation(&d.payload) {
            return Some(self.keys.contains(&k));
        }
        let conn = d.meta.transport.trim_end_matches(";closed");
        Some(self.connections.iter().any(|c| c == conn))
    }
}

/// Who emitted a [`StepEvent`] and at which step.
struct Origin {
    case: Arc<Case>,
    component: Arc<str>,
    step: StepPath,
}

impl Origin {
    fn into_at(self) -> At {
        At {
            case: self.case.id.clone(),
            component: self.component.to_string(),
            step: self.step.into_owned(),
        }
    }
}

/// A case's frequent events before rendering. `Received` and the `Matched` right after it
/// for the same message share one summary, made when the first of them is rendered.
enum StepEvent {
    Started(Arc<Case>),
    Sent {
        origin: Origin,
        template: Arc<str>,
        proto: Arc<dyn Protocol>,
        /// Boxed: inline it would make every buffered event twice as large, and a plain
        /// case's buffer a large allocation.
        datagram: Box<conform_codec::Datagram>,
    },
    Received {
        origin: Origin,
        msg: Msg,
    },
    Matched {
        origin: Origin,
        template: Arc<str>,
        msg: Msg,
        captured: Vec<(String, conform_codec::FieldType, Value)>,
    },
    Verdict {
        origin: Origin,
        verdict: Verdict,
        reason: Option<String>,
    },
}

/// The last message summary made while rendering, so a `Matched` after its `Received`
/// does not decode and summarise the message again.
#[derive(Default)]
struct SummaryMemo(Option<(Msg, String)>);

impl SummaryMemo {
    fn of(&mut self, msg: &Msg) -> String {
        if let Some((m, s)) = &self.0 {
            if Arc::ptr_eq(m, msg) {
                return s.clone();
            }
        }
        let s = msg.summary();
        self.0 = Some((msg.clone(), s.clone()));
        s
    }
}

impl StepEvent {
    fn render(self, memo: &mut SummaryMemo) -> EventKind {
        match self {
            StepEvent::Started(c) => EventKind::CaseStarted {
                case: c.id.clone(),
                title: c.title.clone(),
                suite: c.suite.clone(),
                file: c.file.display().to_string(),
                spec: c.spec.to_string(),
                level: c.level.clone(),
                text: c.text.clone(),
                tags: c.tags.clone(),
            },
            StepEvent::Sent {
                origin,
                template,
                proto,
                datagram,
            } => EventKind::Sent {
                at: origin.into_at(),
                template: template.to_string(),
                summary: proto.decode(&datagram).summary(),
                datagram: *datagram,
            },
            StepEvent::Received { origin, msg } => EventKind::Received {
                at: origin.into_at(),
                summary: memo.of(&msg),
                datagram: msg.datagram().unwrap_or_default(),
            },
            StepEvent::Matched {
                origin,
                template,
                msg,
                captured,
            } => EventKind::Matched {
                at: origin.into_at(),
                template: template.to_string(),
                summary: memo.of(&msg),
                captured: captured
                    .into_iter()
                    .map(|(var, ty, v)| (var, ty.render(&v)))
                    .collect(),
            },
            StepEvent::Verdict {
                origin,
                verdict,
                reason,
            } => EventKind::VerdictSet {
                at: origin.into_at(),
                verdict,
                reason,
            },
        }
    }
}

/// An entry of the outbox: one event, or a finished case's buffer moved in whole (no copy of
/// its events on the case's path).
enum Outgoing {
    One(Pending),
    Case(Vec<Pending>),
}

impl Pending {
    fn render(self, start: Instant, memo: &mut SummaryMemo) -> RunEvent {
        match self {
            Pending::Ready(e) => *e,
            Pending::Lazy(at, make) => RunEvent {
                t_ms: ms_since(start, at),
                kind: make(),
            },
            Pending::Step(at, e) => RunEvent {
                t_ms: ms_since(start, at),
                kind: e.render(memo),
            },
        }
    }
}

/// Milliseconds from `start` to `at` (zero if `at` is earlier), as events carry them.
fn ms_since(start: Instant, at: Instant) -> f64 {
    at.saturating_duration_since(start).as_secs_f64() * 1000.0
}

/// What every emitter of one run shares.
struct Shared {
    tx: mpsc::UnboundedSender<RunEvent>,
    start: Instant,
    outbox: std::sync::Mutex<Vec<Outgoing>>,
    /// Held for a whole delivery, so deliveries never interleave (order) and a `deliver` call
    /// returns only once a delivery that another thread began has reached the channel.
    delivering: std::sync::Mutex<()>,
    anchor: std::sync::OnceLock<TimerAnchor>,
}

/// Locks `m` even if a panicking holder poisoned it: an event list stays usable.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Renders and sends everything in the outbox. The outbox's lock is held only to take the
    /// batch, so cases keep emitting while it is rendered.
    fn deliver(&self) {
        let _one_at_a_time = lock(&self.delivering);
        let batch = {
            let mut outbox = lock(&self.outbox);
            // An idle tick takes nothing and allocates nothing.
            if outbox.is_empty() {
                return;
            }
            // The next batch gets twice the room this one needed, so cases ending meanwhile
            // push without growing the outbox (a growth copies it, on some case's path) even
            // when the next period ends more cases than this one.
            let room = outbox.len().max(32) * 2;
            std::mem::replace(&mut *outbox, Vec::with_capacity(room))
        };
        // A closed channel means the reporter is gone (run aborted); nothing to do.
        let mut memo = SummaryMemo::default();
        let mut send = |p: Pending| {
            let _ = self.tx.send(p.render(self.start, &mut memo));
        };
        for o in batch {
            match o {
                Outgoing::One(p) => send(p),
                Outgoing::Case(ps) => ps.into_iter().for_each(&mut send),
            }
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.deliver();
    }
}

/// Events a case's buffer has room for before it grows: a plain case's (started, sent,
/// received, matched, verdict) and a few more.
const CASE_BUFFER_ROOM: usize = 8;

/// Period of the [`TimerAnchor`]'s timer, and so of the outbox's delivery.
const ANCHOR_PERIOD: Duration = Duration::from_millis(50);

/// A task that keeps one timer pending in the runtime for as long as the run's emitters live
/// (aborted when the last one is dropped), and delivers the run's outbox on each tick.
///
/// Why the timer: tokio's time driver is parked by one worker thread with the earliest pending
/// deadline, and registering a timer earlier than that deadline (or any timer when none is
/// pending) wakes that thread (an eventfd write, then the woken worker contends for the driver
/// and scheduler locks before it parks again). A case registers its guard timer and a receive
/// timer, and when cases run one after another every case found the timer wheel empty: the
/// dns_query bench counted 1.6 eventfd writes and 3 futex calls more per query than without
/// timers. With a deadline always due within `ANCHOR_PERIOD`, registering a case's timers
/// (all longer) wakes nobody. Cost: one timer wake-up per `ANCHOR_PERIOD`. No timer's
/// meaning changes: the anchor is never awaited by a case.
struct TimerAnchor(tokio::task::JoinHandle<()>);

impl Drop for TimerAnchor {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Emitter {
    pub fn new(tx: mpsc::UnboundedSender<RunEvent>) -> Self {
        Emitter {
            shared: Arc::new(Shared {
                tx,
                start: Instant::now(),
                outbox: std::sync::Mutex::default(),
                delivering: std::sync::Mutex::default(),
                anchor: std::sync::OnceLock::new(),
            }),
            buffer: None,
        }
    }

    /// Starts the run's timer anchor on the current runtime, once. It holds the run only
    /// weakly, so dropping the last emitter still delivers and ends it.
    fn anchor_timers(&self) {
        let weak = Arc::downgrade(&self.shared);
        self.shared.anchor.get_or_init(|| {
            TimerAnchor(tokio::spawn(async move {
                let mut tick = tokio::time::interval(ANCHOR_PERIOD);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    match weak.upgrade() {
                        Some(s) => s.deliver(),
                        None => break,
                    }
                }
            }))
        });
    }

    fn t_ms(&self) -> f64 {
        ms_since(self.shared.start, Instant::now())
    }

    fn push(&self, p: Pending) {
        match &self.buffer {
            Some(b) => lock(b).push(p),
            None => lock(&self.shared.outbox).push(Outgoing::One(p)),
        }
    }

    pub fn emit(&self, kind: EventKind) {
        let e = RunEvent {
            t_ms: self.t_ms(),
            kind,
        };
        self.push(Pending::Ready(Box::new(e)));
    }

    /// Emits an event stamped now whose kind is built when the outbox is delivered. `make`
    /// must own what it uses (an `Arc<Case>`, a decoded message), never an emitter.
    pub fn emit_lazy(&self, make: impl FnOnce() -> EventKind + Send + 'static) {
        self.push(Pending::Lazy(Instant::now(), Box::new(make)));
    }

    /// Buffers a case's frequent event, stamped now.
    fn emit_step(&self, e: StepEvent) {
        self.emit_step_at(Instant::now(), e);
    }

    /// Buffers a case's frequent event stamped `at`, a clock reading the caller took anyway.
    fn emit_step_at(&self, at: Instant, e: StepEvent) {
        self.push(Pending::Step(at, e));
    }

    /// Renders and sends every event waiting in the run's outbox now (the end of a run, an
    /// interrupted run's reports). Events still in a running case's buffer follow when that
    /// case ends.
    pub fn deliver(&self) {
        self.shared.deliver();
    }

    /// An emitter that keeps events until `flush`.
    fn buffered(&self) -> Emitter {
        Emitter {
            shared: self.shared.clone(),
            buffer: Some(Arc::new(std::sync::Mutex::new(Vec::with_capacity(
                CASE_BUFFER_ROOM,
            )))),
        }
    }

    /// What ties a message to this case, read from its buffered `Sent` events (a timeout's
    /// report asks; nothing is recorded on the case's path for it; the buffer stays until the
    /// case ends): the correlation keys ([`Protocol::correlation`]) of what it sent, and the
    /// TCP connections it sent on (`tcp;conn=N`), whose `closed` pseudo-messages carry no
    /// key. A raw TCP send (`;raw`) is left out: its first bytes are the length prefix, not
    /// the message. Empty for an unbuffered emitter.
    fn sent_ties(&self, proto: &dyn Protocol) -> Ties {
        let mut t = Ties::default();
        let Some(b) = &self.buffer else {
            return t;
        };
        for p in lock(b).iter() {
            if let Pending::Step(_, StepEvent::Sent { datagram, .. }) = p {
                let transport = &datagram.meta.transport;
                if transport.contains(";raw") {
                    continue;
                }
                if let Some(k) = proto.correlation(&datagram.payload) {
                    t.keys.push(k);
                }
                if transport.starts_with("tcp;") {
                    t.connections.push(transport.to_string());
                }
            }
        }
        t
    }

    /// Moves the buffered events to the run's outbox, in one piece.
    fn flush(&self) {
        if let Some(b) = &self.buffer {
            let events = std::mem::take(&mut *lock(b));
            if !events.is_empty() {
                lock(&self.shared.outbox).push(Outgoing::Case(events));
            }
        }
    }
}

/// Everything a case needs from its run.
#[derive(Clone)]
pub struct CaseEnv {
    pub adapter: Arc<dyn Adapter>,
    pub proto: Arc<dyn Protocol>,
    /// Module parameter values for the case's suite.
    pub params: Arc<HashMap<String, Value>>,
    pub seed: u64,
    pub emitter: Emitter,
}

/// The outcome of one case.
#[derive(Clone, Debug)]
pub struct CaseResult {
    pub verdict: Verdict,
    pub reason: Option<String>,
    pub duration: Duration,
}

type Msg = Arc<dyn Decoded>;

/// Runs one case to its verdict. Never panics on server behaviour; harness faults give `error`.
pub async fn run_case(case: Arc<Case>, mut env: CaseEnv) -> CaseResult {
    let outer = env.emitter.clone();
    outer.anchor_timers();
    env.emitter = outer.buffered();
    let r = run_case_buffered(case, env.clone()).await;
    env.emitter.flush();
    r
}

async fn run_case_buffered(case: Arc<Case>, env: CaseEnv) -> CaseResult {
    // One clock reading for the case's start and its `CaseStarted`.
    let started = Instant::now();
    env.emitter
        .emit_step_at(started, StepEvent::Started(case.clone()));
    let guard = case.timeout;
    let inner = run_components(case.clone(), env.clone());
    let (verdict, reason) = match tokio::time::timeout(guard, inner).await {
        Ok(r) => r,
        Err(_) => {
            let reason = format!("case guard timer expired after {} ms", guard.as_millis());
            env.emitter.emit(EventKind::VerdictSet {
                at: At {
                    case: case.id.clone(),
                    component: "mtc".into(),
                    step: String::new(),
                },
                verdict: Verdict::Error,
                reason: Some(reason.clone()),
            });
            (Verdict::Error, Some(reason))
        }
    };
    CaseResult {
        verdict,
        reason,
        duration: started.elapsed(),
    }
}

/// Shared state of a case.
struct CaseCtx {
    case: Arc<Case>,
    env: CaseEnv,
}

async fn run_components(case: Arc<Case>, env: CaseEnv) -> (Verdict, Option<String>) {
    let ctx = Arc::new(CaseCtx {
        case: case.clone(),
        env: env.clone(),
    });
    // Every component reads the adapter directly (no forwarding hop: latency matters, see the
    // DORA bench). Exactly one reader records `Received` events: the main component when it is
    // alone, otherwise a recorder task, so parallel components don't log each message twice.
    let alone = case.components.is_empty();
    let recorder = if alone {
        None
    } else {
        let ctx = ctx.clone();
        let mut rx = env.adapter.subscribe();
        Some(tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(inc) => {
                        let (proto, case, datagram) =
                            (ctx.env.proto.clone(), ctx.case.clone(), inc.datagram);
                        ctx.env.emitter.emit_lazy(move || EventKind::Received {
                            at: At {
                                case: case.id.clone(),
                                component: String::new(),
                                step: String::new(),
                            },
                            summary: proto.decode(&datagram).summary(),
                            datagram,
                        });
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => break,
                }
            }
        }))
    };

    let mut mtc = ComponentRun::new(ctx.clone(), "mtc");
    mtc.records = alone;
    let mut handles: HashMap<String, tokio::task::JoinHandle<(Verdict, Option<String>)>> =
        HashMap::new();
    if !case.explicit_start {
        for c in &case.components {
            handles.insert(c.name.clone(), spawn_component(ctx.clone(), c));
        }
    }
    mtc.components = case
        .components
        .iter()
        .map(|c| (c.name.clone(), c.clone()))
        .collect();
    mtc.handles = handles;
    let _ = mtc.steps_inline(&case.steps, "").await;
    // Implicit join of everything still running.
    let names: Vec<String> = mtc.handles.keys().cloned().collect();
    mtc.join(&names).await;
    if let Some(r) = recorder {
        r.abort();
    }
    let mut verdict = mtc.verdict;
    let mut reason = mtc.reason.clone();
    for (v, r) in mtc.joined.drain(..) {
        if v > verdict {
            verdict = v;
            reason = r;
        }
    }
    (verdict, reason)
}

fn spawn_component(
    ctx: Arc<CaseCtx>,
    c: &Component,
) -> tokio::task::JoinHandle<(Verdict, Option<String>)> {
    let mut run = ComponentRun::new(ctx, &c.name);
    let steps = c.steps.clone();
    tokio::spawn(async move {
        let _ = run.steps_inline(&steps, "").await;
        (run.verdict, run.reason)
    })
}

/// A client identity derived from the run seed, the case and the component: a locally
/// administered unicast MAC, the matching chaddr and client-id (type 1 + MAC), and an xid.
/// Distinct per case and component, so cases can run in parallel against one server, and
/// reproducible from the seed.
struct Identity {
    mac: Value,
    chaddr: Value,
    client_id: Value,
    xid: Value,
    /// DNS message ids are 16 bits: `$id` is the low half of the component's xid.
    id: Value,
}

/// The variables an [`Identity`] provides.
const IDENTITY_VARS: [&str; 5] = ["mac", "chaddr", "client_id", "xid", "id"];

impl Identity {
    fn derive(seed: u64, case: &str, who: &str) -> Identity {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (seed, case, who).hash(&mut h);
        let mut rng = rand::rngs::StdRng::seed_from_u64(h.finish());
        let mut mac = [0u8; 6];
        rng.fill(&mut mac);
        mac[0] = (mac[0] & 0xfc) | 0x02;
        let xid: u32 = rng.random();
        let mut cid = vec![1u8];
        cid.extend_from_slice(&mac);
        Identity {
            mac: Value::Mac(mac),
            chaddr: Value::Bytes(mac.to_vec()),
            client_id: Value::Bytes(cid),
            xid: Value::Int(i64::from(xid)),
            id: Value::Int(i64::from(xid & 0xffff)),
        }
    }

    /// The variable `name` if it is one of the identity's.
    fn var(&self, name: &str) -> Option<&Value> {
        match name {
            "mac" => Some(&self.mac),
            "chaddr" => Some(&self.chaddr),
            "client_id" => Some(&self.client_id),
            "xid" => Some(&self.xid),
            "id" => Some(&self.id),
            _ => None,
        }
    }
}

/// Replaces the identity variables in `vars` (a `repeat` with `fresh_identity`): entries in
/// `vars` shadow the component's own identity.
fn set_identity(vars: &mut HashMap<String, Value>, seed: u64, case: &str, who: &str) {
    let i = Identity::derive(seed, case, who);
    for name in IDENTITY_VARS {
        if let Some(v) = i.var(name) {
            vars.insert(name.into(), v.clone());
        }
    }
}

#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// One running test component.
struct ComponentRun {
    ctx: Arc<CaseCtx>,
    /// Shared with the lazy events that name the component.
    name: Arc<str>,
    /// Captures, `repeat` counters and fresh identities; they shadow everything below.
    vars: HashMap<String, Value>,
    /// The component's identity, derived on first use: most cases (every DNS case) never read
    /// it, and deriving it (SipHash, ChaCha seeding, five values) was a tenth of a DNS case's
    /// CPU time in the dns_query bench.
    identity: std::sync::OnceLock<Identity>,
    /// `$case_id` and `$component`, made on first use (few cases read them).
    names: std::sync::OnceLock<[Value; 2]>,
    rx: tokio::sync::broadcast::Receiver<conform_adapters::Incoming>,
    /// Whether this component logs every arriving message as a `Received` event.
    records: bool,
    timers: HashMap<String, Instant>,
    verdict: Verdict,
    reason: Option<String>,
    components: HashMap<String, Component>,
    handles: HashMap<String, tokio::task::JoinHandle<(Verdict, Option<String>)>>,
    joined: Vec<(Verdict, Option<String>)>,
}

impl Env for ComponentRun {
    fn var(&self, name: &str) -> Option<&Value> {
        // Captures and identity shadow module parameters.
        if let Some(v) = self.vars.get(name) {
            return Some(v);
        }
        match name {
            "case_id" => return Some(&self.names()[0]),
            "component" => return Some(&self.names()[1]),
            n if IDENTITY_VARS.contains(&n) => {
                let ctx = &self.ctx;
                return self
                    .identity
                    .get_or_init(|| Identity::derive(ctx.env.seed, &ctx.case.id, &self.name))
                    .var(name);
            }
            _ => {}
        }
        self.ctx.env.params.get(name)
    }
}

impl ComponentRun {
    fn new(ctx: Arc<CaseCtx>, name: &str) -> Self {
        // Subscribe before any step runs, so no reply to this component can be missed.
        let rx = ctx.env.adapter.subscribe();
        // Every case has an `mtc`: its name is shared by all of them.
        static MTC: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| "mtc".into());
        ComponentRun {
            ctx,
            name: if name == "mtc" {
                MTC.clone()
            } else {
                name.into()
            },
            vars: HashMap::new(),
            identity: std::sync::OnceLock::new(),
            names: std::sync::OnceLock::new(),
            rx,
            records: false,
            timers: HashMap::new(),
            verdict: Verdict::None,
            reason: None,
            components: HashMap::new(),
            handles: HashMap::new(),
            joined: Vec::new(),
        }
    }

    fn names(&self) -> &[Value; 2] {
        self.names.get_or_init(|| {
            [
                Value::Str(self.ctx.case.id.clone()),
                Value::Str(self.name.to_string()),
            ]
        })
    }

    fn at(&self, step: &str) -> At {
        At {
            case: self.ctx.case.id.clone(),
            component: self.name.to_string(),
            step: step.to_string(),
        }
    }

    /// This component at `step`, for an event rendered when the run's outbox is delivered
    /// (see [`Emitter`]): the case's path pays for the captures, not for the rendering. A
    /// top-level path is borrowed from a table: no copy on the case's path.
    fn origin(&self, step: &StepPath) -> Origin {
        Origin {
            case: self.ctx.case.clone(),
            component: self.name.clone(),
            step: step.clone(),
        }
    }

    fn emit(&self, k: EventKind) {
        self.ctx.env.emitter.emit(k);
    }

    fn set_verdict(&mut self, v: Verdict, reason: Option<String>, step: &StepPath) {
        self.ctx.env.emitter.emit_step(StepEvent::Verdict {
            origin: self.origin(step),
            verdict: v,
            reason: reason.clone(),
        });
        if v > self.verdict {
            self.verdict = v;
            self.reason = reason;
        } else if v == self.verdict && self.reason.is_none() {
            self.reason = reason;
        }
    }

    /// Runs `steps` in order until one stops the component. Boxed: the recursion between
    /// steps and alt branches (and `repeat`) needs one indirection per level.
    fn steps<'a>(
        &'a mut self,
        steps: &'a [Step],
        prefix: &'a str,
    ) -> futures_like::BoxFuture<'a, Flow> {
        Box::pin(self.steps_inline(steps, prefix))
    }

    /// [`ComponentRun::steps`] without the box, for a component's top-level steps: their
    /// future lives in the component's own, so a case allocates no box until it nests.
    async fn steps_inline(&mut self, steps: &[Step], prefix: &str) -> Flow {
        for (i, s) in steps.iter().enumerate() {
            let path = step_path(prefix, i + 1);
            if self.step(s, &path).await == Flow::Stop {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    async fn step(&mut self, s: &Step, path: &StepPath) -> Flow {
        match s {
            Step::Send { template, .. } => self.send(template, path).await,
            Step::Alt { branches, .. } => self.alt(branches, path).await,
            Step::StartTimer { name, duration, .. } => {
                let d = self.dur(duration);
                self.timers.insert(name.clone(), Instant::now() + d);
                Flow::Continue
            }
            Step::StopTimer { name, .. } => {
                self.timers.remove(name);
                Flow::Continue
            }
            Step::Timeout { name, .. } => match self.timers.remove(name) {
                Some(deadline) => {
                    tokio::time::sleep_until(deadline).await;
                    self.emit(EventKind::Timeout {
                        at: self.at(path),
                        timer: name.clone(),
                    });
                    Flow::Continue
                }
                None => {
                    self.set_verdict(
                        Verdict::Error,
                        Some(format!("timeout on timer `{name}` which is not running")),
                        path,
                    );
                    Flow::Stop
                }
            },
            Step::SetVerdict {
                verdict, reason, ..
            } => {
                let r = reason.as_ref().map(|r| self.interpolate(r));
                self.set_verdict(*verdict, r, path);
                Flow::Continue
            }
            Step::Wait { duration, .. } => {
                tokio::time::sleep(self.dur(duration)).await;
                Flow::Continue
            }
            Step::Log { text, .. } => {
                let text = self.interpolate(text);
                self.emit(EventKind::Log {
                    at: self.at(path),
                    text,
                });
                Flow::Continue
            }
            Step::Start { components, .. } => {
                for n in components {
                    if let Some(c) = self.components.get(n).cloned() {
                        if !self.handles.contains_key(n) {
                            let h = spawn_component(self.ctx.clone(), &c);
                            self.handles.insert(n.clone(), h);
                        }
                    }
                }
                Flow::Continue
            }
            Step::Join { components, .. } => {
                self.join(components).await;
                Flow::Continue
            }
            Step::Stop { .. } => Flow::Stop,
            Step::Repeat {
                count,
                var,
                fresh_identity,
                steps,
                ..
            } => {
                for k in 0..*count {
                    self.vars.insert(var.clone(), Value::Int(i64::from(k)));
                    if *fresh_identity {
                        let label = format!("{}#{k}", self.name);
                        set_identity(&mut self.vars, self.ctx.env.seed, &self.ctx.case.id, &label);
                    }
                    let p = format!("{path}[{k}]");
                    if self.steps(steps, &p).await == Flow::Stop {
                        return Flow::Stop;
                    }
                }
                Flow::Continue
            }
        }
    }

    async fn join(&mut self, names: &[String]) {
        for n in names {
            if let Some(h) = self.handles.remove(n) {
                match h.await {
                    Ok(r) => self.joined.push(r),
                    Err(e) => self
                        .joined
                        .push((Verdict::Error, Some(format!("component `{n}` failed: {e}")))),
                }
            }
        }
    }

    /// A step's duration, reading a `duration` module parameter (milliseconds) if it names one.
    fn dur(&self, d: &conform_model::suite::Dur) -> Duration {
        d.resolve(|name| match self.var(name) {
            Some(Value::Int(ms)) => Some(*ms),
            _ => None,
        })
    }

    fn interpolate(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            match self.var(&name) {
                // Strings as they are: `log: "host $name"` should not print quotes.
                Some(Value::Str(v)) if !name.is_empty() => out.push_str(v),
                Some(v) if !name.is_empty() => out.push_str(&v.to_string()),
                _ => {
                    out.push('$');
                    out.push_str(&name);
                }
            }
            rest = &after[name.len()..];
        }
        out.push_str(rest);
        out
    }

    async fn send(&mut self, t: &Template, path: &StepPath) -> Flow {
        let fields = match t.to_send(self) {
            Ok(f) => f,
            Err(e) => {
                // Only captures can be undefined here (the loader checks the rest); a capture is
                // missing only when an earlier step failed, which already set the verdict.
                self.set_verdict(
                    Verdict::Error,
                    Some(format!("cannot build `{}`: {e}", t.name)),
                    path,
                );
                return Flow::Stop;
            }
        };
        let d = match self.ctx.env.proto.encode(&fields) {
            Ok(d) => d,
            Err(e) => {
                self.set_verdict(
                    Verdict::Error,
                    Some(format!("cannot encode `{}`: {e}", t.name)),
                    path,
                );
                return Flow::Stop;
            }
        };
        // A datagram socket sends at once: no boxed `send` future on the case's path.
        let sent = match self.ctx.env.adapter.try_send(&d) {
            Some(r) => r,
            None => self.ctx.env.adapter.send(&d).await,
        };
        if let Err(e) = sent {
            self.emit(EventKind::AdapterError {
                at: self.at(path),
                message: e.to_string(),
            });
            self.set_verdict(
                Verdict::Error,
                Some(format!("adapter failed to send: {e}")),
                path,
            );
            return Flow::Stop;
        }
        // Bookkeeping after the send, and the summary (a decode of what was sent) only when
        // the outbox is delivered: neither delays the message nor the verdict.
        self.ctx.env.emitter.emit_step(StepEvent::Sent {
            origin: self.origin(path),
            template: t.name.clone(),
            proto: self.ctx.env.proto.clone(),
            datagram: Box::new(d),
        });
        Flow::Continue
    }

    /// TTCN-3 alt: on each arriving message try the receive branches in order; when a timer
    /// expires take its timeout branch. Messages that match nothing are kept for the mismatch
    /// report and discarded.
    async fn alt(&mut self, branches: &[Branch], path: &StepPath) -> Flow {
        // Implicit timers (of `receive`) start once: a `repeat` re-evaluates the alt with the
        // timer still running, as TTCN-3 does, so a chatty server cannot keep it waiting.
        let entered = Instant::now();
        'reenter: loop {
            let mut unmatched: Vec<Msg> = Vec::new();
            loop {
                // The earliest deadline among this alt's timeout branches.
                let mut next: Option<(usize, Instant)> = None;
                for (i, b) in branches.iter().enumerate() {
                    if let BranchOn::Timeout { timer, implicit } = &b.on {
                        let dl = match implicit {
                            Some(d) => Some(entered + *d),
                            None => self.timers.get(timer).copied(),
                        };
                        if let Some(dl) = dl {
                            if next.is_none_or(|(_, n)| dl < n) {
                                next = Some((i, dl));
                            }
                        }
                    }
                }
                // Without a timeout branch the sleep below is disabled; its deadline is only a
                // placeholder (no clock read for it).
                let deadline = next.map_or(entered, |(_, d)| d);
                // An answer that arrived while this task was busy (a loopback server answers
                // before our own send returns) is read here rather than by the adapter's
                // reader task, which would first have to be woken through the reactor.
                if self.rx.is_empty() {
                    self.ctx.env.adapter.take_waiting();
                }
                tokio::select! {
                    biased;
                    inc = self.rx.recv() => {
                        let inc = match inc {
                            Ok(inc) => inc,
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                                self.emit(EventKind::AdapterError { at: self.at(path), message: format!("receive queue overflowed: {n} datagrams dropped") });
                                continue;
                            }
                            Err(_) => {
                                self.set_verdict(Verdict::Error, Some("the adapter stopped delivering messages".into()), path);
                                return Flow::Stop;
                            }
                        };
                        // The view keeps the datagram (no copy on the path); the `Received`
                        // event takes it back from the view when the outbox is delivered.
                        let msg: Msg = self.ctx.env.proto.decode_owned(inc.datagram);
                        // Its summary is made when the outbox is delivered, once for this
                        // `Received` and the `Matched` that follows it.
                        if self.records {
                            self.ctx.env.emitter.emit_step(StepEvent::Received { origin: self.origin(path), msg: msg.clone() });
                        }
                        let hit = branches.iter().enumerate().find(|(_, b)| match &b.on {
                            BranchOn::Receive { template, .. } => template.matches(msg.as_ref(), self),
                            BranchOn::Timeout { .. } => false,
                        });
                        match hit {
                            Some((i, b)) => {
                                let BranchOn::Receive { template, capture } = &b.on else { unreachable!() };
                                let mut captured = Vec::new();
                                let mut missing = None;
                                for (var, f) in capture {
                                    match msg.get(f) {
                                        Some(v) => {
                                            let v = v.into_owned();
                                            captured.push((var.clone(), f.ty.clone(), v.clone()));
                                            self.vars.insert(var.clone(), v);
                                        }
                                        None => missing = Some((var.clone(), f.path.to_string())),
                                    }
                                }
                                self.ctx.env.emitter.emit_step(StepEvent::Matched {
                                    origin: self.origin(path),
                                    template: template.name.clone(),
                                    msg: msg.clone(),
                                    captured,
                                });
                                // A default (activated altstep) took a message in place of the
                                // awaited one: report how that message differs from what was
                                // awaited, as a timeout would.
                                if b.from_altstep.is_some() && i > 0 {
                                    self.report_mismatch(branches, std::slice::from_ref(&msg), path, false);
                                }
                                if let Some((var, p)) = missing {
                                    self.set_verdict(Verdict::Fail, Some(format!("capture `{var}`: field `{p}` is absent in the matched message")), path);
                                    return Flow::Stop;
                                }
                                let flow = self.take_branch(b, i, path).await;
                                if flow == Flow::Stop {
                                    return Flow::Stop;
                                }
                                if b.repeat {
                                    continue 'reenter;
                                }
                                return Flow::Continue;
                            }
                            None => {
                                if unmatched.len() < 64 {
                                    unmatched.push(msg);
                                }
                            }
                        }
                    }
                    _ = tokio::time::sleep_until(deadline), if next.is_some() => {
                        let Some((i, _)) = next else { continue };
                        let b = &branches[i];
                        let BranchOn::Timeout { timer, implicit } = &b.on else { continue };
                        if implicit.is_none() {
                            self.timers.remove(timer);
                        }
                        let tname = if timer.is_empty() { "receive".to_string() } else { timer.clone() };
                        self.emit(EventKind::Timeout { at: self.at(path), timer: tname });
                        self.report_mismatch(branches, &unmatched, path, true);
                        let flow = self.take_branch(b, i, path).await;
                        if flow == Flow::Stop {
                            return Flow::Stop;
                        }
                        if b.repeat {
                            continue 'reenter;
                        }
                        return Flow::Continue;
                    }
                }
            }
        }
    }

    /// On a timeout, explain what the first receive branch expected against the closest
    /// message that arrived, plus everything that arrived unmatched.
    ///
    /// Cases that run at once share the target's socket, so other cases' answers (and the
    /// `closed` pseudo-messages of their TCP connections) arrive here too. On a timeout
    /// (`tie`), a message tied to this case ([`Ties::tied`]) is preferred as the closest; when
    /// none arrived, the closest of the others is still explained, but its summary says it is
    /// not tied to this case ([`NOT_TIED`]), so a silent server is not read as one that sent
    /// another query's answer, and a wrong xid or id is still shown field by field. Untied
    /// messages are marked in the list too. A case that sent nothing keyed is reported as
    /// before, and so is an altstep's message (`tie` false), which decided the verdict.
    fn report_mismatch(&self, branches: &[Branch], unmatched: &[Msg], path: &str, tie: bool) {
        let Some(template) = branches.iter().find_map(|b| match &b.on {
            BranchOn::Receive { template, .. } => Some(template.clone()),
            _ => None,
        }) else {
            return;
        };
        let proto = self.ctx.env.proto.as_ref();
        let ties = if tie {
            self.ctx.env.emitter.sent_ties(proto)
        } else {
            Ties::default()
        };
        let untied: Vec<bool> = unmatched
            .iter()
            .map(|m| ties.tied(proto, m) == Some(false))
            .collect();
        // The closest among the tied messages, or among all when none is tied.
        let any_tied = untied.iter().any(|u| !u);
        let mut best: Option<(usize, usize, Vec<conform_model::Mismatch>)> = None;
        for (i, m) in unmatched.iter().enumerate() {
            if any_tied && untied[i] {
                continue;
            }
            let mm = template.explain(m.as_ref(), self);
            if best.as_ref().is_none_or(|(n, _, _)| mm.len() < *n) {
                best = Some((mm.len(), i, mm));
            }
        }
        let summary = |i: usize| {
            let s = unmatched[i].summary();
            if untied[i] {
                format!("{s}{NOT_TIED}")
            } else {
                s
            }
        };
        let (closest, mismatches) = match best {
            Some((_, i, mm)) => (Some(summary(i)), mm),
            None => (None, vec![]),
        };
        self.emit(EventKind::Mismatch {
            at: self.at(path),
            template: template.name.to_string(),
            closest,
            mismatches,
            unmatched: (0..unmatched.len()).map(summary).collect(),
        });
    }

    async fn take_branch(&mut self, b: &Branch, i: usize, path: &StepPath) -> Flow {
        if let Some(v) = b.verdict {
            let reason = b
                .reason
                .as_ref()
                .map(|r| self.interpolate(r))
                .or_else(|| b.from_altstep.as_ref().map(|a| format!("altstep `{a}`")));
            self.set_verdict(v, reason, path);
        }
        // Most branches (every plain `receive`) have no steps: no path, no boxed future.
        if !b.steps.is_empty() {
            let p = step_path(path, i + 1);
            if self.steps(&b.steps, &p).await == Flow::Stop {
                return Flow::Stop;
            }
        }
        if b.stop {
            return Flow::Stop;
        }
        Flow::Continue
    }
}

/// A step's path as events name it (`3`, `2.1`): borrowed from a table for the top-level
/// steps of short cases, so neither making it nor handing it to a lazy event allocates.
type StepPath = std::borrow::Cow<'static, str>;

/// The path of step `n` (from 1) under `prefix`: `3`, or `2.1` inside the first branch of
/// step 2. Top-level paths of short cases come from a table (no formatting per step).
fn step_path(prefix: &str, n: usize) -> StepPath {
    const TOP: [&str; 9] = ["1", "2", "3", "4", "5", "6", "7", "8", "9"];
    match (prefix.is_empty(), TOP.get(n.wrapping_sub(1))) {
        (true, Some(p)) => StepPath::Borrowed(p),
        (true, None) => StepPath::Owned(n.to_string()),
        (false, _) => StepPath::Owned(format!("{prefix}.{n}")),
    }
}

/// A boxed future, for the recursion between steps and alt branches.
mod futures_like {
    pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
}

#[cfg(test)]
mod tests {
    use super::step_path;

    /// A plain case's buffer (room for eight events) stays a small request for glibc's
    /// allocator (chunks up to 1,008 bytes, so 1,000 bytes of payload): a larger request first
    /// consolidates the allocator's fast bins, which callgrind showed costing more than the
    /// boxes the inline events replaced.
    #[test]
    fn a_case_buffer_is_a_small_allocation() {
        let room = std::mem::size_of::<super::Pending>() * super::CASE_BUFFER_ROOM;
        assert!(room <= 1000, "a case buffer takes {room} bytes");
    }

    /// A message is tied to a case by one of its keys, or, without a key, as the `closed`
    /// pseudo-message of one of its TCP connections; a case without keys tells nothing apart.
    #[test]
    fn messages_are_tied_by_key_or_by_the_case_s_connection() {
        use conform_codec::{Datagram, Meta, Protocol};
        let dns = conform_codec::dns::Dns::default();
        let msg = |payload: Vec<u8>, transport: &'static str| {
            dns.decode_owned(Datagram {
                payload,
                meta: Meta {
                    transport: transport.into(),
                    ..Meta::default()
                },
            })
        };
        let ties = super::Ties {
            keys: vec![0x1abc],
            connections: vec!["tcp;conn=3".into()],
        };
        let answer = |id: u16| {
            let mut p = id.to_be_bytes().to_vec();
            p.extend_from_slice(&[0x84, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            p
        };
        assert_eq!(ties.tied(&dns, &msg(answer(0x1abc), "udp")), Some(true));
        assert_eq!(ties.tied(&dns, &msg(answer(0x1abd), "udp")), Some(false));
        assert_eq!(
            ties.tied(&dns, &msg(vec![], "tcp;conn=3;closed")),
            Some(true)
        );
        assert_eq!(
            ties.tied(&dns, &msg(vec![], "tcp;conn=4;closed")),
            Some(false)
        );
        let none = super::Ties::default();
        assert_eq!(none.tied(&dns, &msg(answer(7), "udp")), None);
    }

    #[test]
    fn step_paths_number_from_one_and_nest() {
        assert_eq!(step_path("", 1), "1");
        assert_eq!(step_path("", 9), "9");
        assert_eq!(step_path("", 10), "10");
        assert_eq!(step_path("3", 1), "3.1");
        assert_eq!(step_path("3.2", 12), "3.2.12");
    }
}
