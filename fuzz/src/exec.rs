//! Runs one case against a live server and observes everything the oracles need.
//!
//! One execution: send the case; send the canary DISCOVER from a fresh client right behind it;
//! collect every reply carrying the case's xid until the canary's OFFER, REQUEST, ACK and
//! RELEASE are done; release any address the case itself was given; check that the server
//! process is still the one conform started.
//!
//! The canary doubles as the end-of-case marker: DHCP servers handle messages in arrival order
//! (dnsmasq, Kea without multi-threading, dhcpd, udhcpd, the fixture), so once the canary is
//! answered, a reply to the case would have arrived. No case waits for a timeout unless the
//! server stops answering. Findings are confirmed with a settle time before they count, so a
//! server that reorders costs a re-check, never a false report.

use crate::case::{canary_message, release_for, Env, FuzzCase};
use crate::oracle::{Oracle, Violation};
use conform_adapters::{Adapter, AdapterError, Incoming};
use conform_codec::dhcp::raw::Repr;
use conform_codec::Datagram;
use conform_lab::Lab;
use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio::time::Sleep;

/// Timing of one execution.
#[derive(Clone, Copy, Debug)]
pub struct ExecConfig {
    /// How long each canary reply may take before the server is suspected.
    pub canary_timeout: Duration,
    /// The second chance a silent server gets before it is declared hung (0: none).
    pub retry_timeout: Duration,
    /// Extra time to collect late replies after the canary (0 in the campaign loop).
    pub settle: Duration,
}

impl Default for ExecConfig {
    fn default() -> Self {
        ExecConfig {
            canary_timeout: Duration::from_millis(1000),
            retry_timeout: Duration::from_millis(3000),
            settle: Duration::ZERO,
        }
    }
}

/// A harness problem: the campaign cannot go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    #[error(transparent)]
    Adapter(#[from] AdapterError),
    #[error("the adapter's receive channel closed")]
    Closed,
    #[error("failed to restart the server: {0}")]
    Restart(String),
    #[error("the server does not answer the canary ({0}); nothing can be judged")]
    Baseline(String),
}

/// One frame of an execution, for captures.
#[derive(Clone, Debug)]
pub struct Frame {
    pub sent: bool,
    pub at: SystemTime,
    pub label: String,
    pub datagram: Datagram,
}

/// What one execution saw.
#[derive(Clone, Debug)]
pub struct Observation {
    pub xid: u32,
    pub request: Datagram,
    /// Replies with the case's xid, in arrival order.
    pub replies: Vec<Incoming>,
    /// Set when the server stopped serving (crash, restart, hang).
    pub liveness: Option<Violation>,
    /// The canary needed its second chance (the server was slow, not dead).
    pub slow: bool,
    /// Every frame, when recording is on.
    pub frames: Vec<Frame>,
}

/// Counters over a campaign.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExecStats {
    pub executions: u64,
    pub sent: u64,
    pub received: u64,
    pub slow_canaries: u64,
    pub restarts: u64,
}

/// What runs an executor's futures. A current-thread runtime (`Runtime::block_on`) runs the
/// adapter's receive task on the campaign thread itself: a reply then wakes one thread, not a
/// runtime worker that hands it over to the campaign thread.
#[derive(Clone)]
enum Driver {
    Handle(Handle),
    Runtime(Arc<Runtime>),
}

impl Driver {
    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        match self {
            Driver::Handle(h) => h.block_on(f),
            Driver::Runtime(r) => r.block_on(f),
        }
    }
}

/// Sends cases to one server and watches it. Not `Sync`: one campaign thread owns it.
pub struct Executor {
    rt: Driver,
    adapter: Arc<dyn Adapter>,
    rx: broadcast::Receiver<Incoming>,
    pub env: Env,
    lab: Option<Arc<Lab>>,
    pid: Option<u32>,
    xid_base: u32,
    counter: u32,
    pub cfg: ExecConfig,
    pub stats: ExecStats,
    /// Keep every frame of each execution in [`Observation::frames`].
    pub record: bool,
    name: String,
}

/// A case in flight in [`Executor::run_stream`].
struct Slot<T> {
    token: T,
    request: Datagram,
    repr: Repr,
    xid: u32,
    canary: u32,
    mac: [u8; 6],
    /// 0 awaits the canary's OFFER, 1 its ACK, 2 done.
    stage: u8,
    addr: Ipv4Addr,
    /// When the canary's last message went out.
    since: Instant,
    retries: usize,
    replies: Vec<Incoming>,
}

/// The adaptive nap of [`Executor::next_incoming_napping`], in microseconds (0: none).
struct Nap {
    us: u64,
    /// Waits since the nap fell to 0 (a probe follows every [`Nap::PROBE`]).
    idle: u32,
}

impl Nap {
    const MIN: u64 = 10;
    const MAX: u64 = 200;
    const PROBE: u32 = 64;

    fn next(&mut self) -> Option<Duration> {
        if self.us == 0 {
            self.idle += 1;
            if self.idle < Self::PROBE {
                return None;
            }
            self.idle = 0;
            self.us = Self::MIN;
        }
        Some(Duration::from_micros(self.us))
    }

    /// `arrived` replies after a nap with `outstanding` owed.
    fn observe(&mut self, arrived: usize, outstanding: usize) {
        if arrived >= outstanding {
            self.us /= 2;
            if self.us < Self::MIN {
                self.us = 0;
            }
        } else {
            self.us = (self.us * 3 / 2 + 1).min(Self::MAX);
        }
    }
}

impl Default for Nap {
    fn default() -> Self {
        Nap { us: 50, idle: 0 }
    }
}

struct Canary {
    ok: bool,
    stage: &'static str,
}

fn xid_of(d: &Datagram) -> Option<u32> {
    let b = d.payload.get(4..8)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// op, option 53 (first complete instance in the options field) and yiaddr, without
/// copying the message: for canary replies, which only need these.
fn quick(payload: &[u8]) -> Option<(u8, Option<u8>, Ipv4Addr)> {
    use conform_codec::dhcp::raw::{OptionIter, Packet, Token};
    let p = Packet::new_checked(payload).ok()?;
    let t = OptionIter::new(p.options()).find_map(|t| match t {
        Token::Option {
            code: 53,
            data: [v],
            ..
        } => Some(*v),
        _ => None,
    });
    Some((p.op(), t, p.yiaddr()))
}

fn reply_type(r: &Repr) -> Option<u8> {
    match r.aggregate(53).as_deref() {
        Some([t]) => Some(*t),
        _ => None,
    }
}

impl Executor {
    /// An executor on `adapter`; `lab` (when conform started the server) enables the process
    /// checks and restarts. Call from outside the runtime (it blocks on `rt`).
    pub fn new(
        rt: Handle,
        name: &str,
        adapter: Arc<dyn Adapter>,
        env: Env,
        lab: Option<Arc<Lab>>,
        seed: u64,
    ) -> Executor {
        let rx = adapter.subscribe();
        let pid = lab.as_ref().and_then(|l| l.server_pid());
        // Case and canary xids come from one counter over a seed-derived base: unique within a
        // campaign, reproducible across runs with the same seed, and never the lab probe's
        // 0xcfXXXXXX.
        let mut xid_base = (seed ^ (seed >> 32)) as u32;
        xid_base = xid_base.wrapping_mul(0x9e37_79b1) & 0x7fff_ffff;
        Executor {
            rt: Driver::Handle(rt),
            adapter,
            rx,
            env,
            lab,
            pid,
            xid_base,
            counter: 0,
            cfg: ExecConfig::default(),
            stats: ExecStats::default(),
            record: false,
            name: name.to_string(),
        }
    }

    /// Runs this executor's futures with `rt` itself rather than a handle: required for a
    /// current-thread runtime, whose I/O and spawned tasks (the adapter's receive loop) only
    /// make progress inside `Runtime::block_on`. `rt` must be the runtime the adapter was
    /// opened on.
    pub fn drive_with(&mut self, rt: Arc<Runtime>) {
        self.rt = Driver::Runtime(rt);
    }

    /// The target's name (profile name or interface).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether conform manages the server process (liveness by PID, restarts).
    pub fn managed(&self) -> bool {
        self.lab.is_some()
    }

    pub fn lab(&self) -> Option<&Arc<Lab>> {
        self.lab.as_ref()
    }

    fn next(&mut self) -> u32 {
        self.counter = self.counter.wrapping_add(1);
        self.xid_base.wrapping_add(self.counter)
    }

    /// Checks the server answers a canary at all: before a campaign, and after a restart.
    pub fn baseline(&mut self) -> Result<(), ExecError> {
        let t = self
            .cfg
            .retry_timeout
            .max(self.cfg.canary_timeout)
            .max(Duration::from_secs(1));
        let rt = self.rt.clone();
        let c = rt.block_on(async {
            self.drain()?;
            let mut sink = Vec::new();
            let mut frames = Vec::new();
            self.canary(t, None, &mut sink, &mut frames).await
        })?;
        if c.ok {
            Ok(())
        } else {
            Err(ExecError::Baseline(format!(
                "no {} for a fresh client within {} ms",
                c.stage,
                t.as_millis()
            )))
        }
    }

    /// Runs `case` once (see the module documentation).
    pub fn run(&mut self, case: &FuzzCase) -> Result<Observation, ExecError> {
        let xid = self.next();
        let enc = case.encode(&self.env, xid);
        let rt = self.rt.clone();
        rt.block_on(self.run_async(enc.datagram, enc.repr, xid))
    }

    /// Runs raw bytes built elsewhere (replays).
    pub fn run_datagram(&mut self, d: Datagram) -> Result<Observation, ExecError> {
        let xid = xid_of(&d).unwrap_or(0);
        let repr = Repr::parse(&d.payload);
        let rt = self.rt.clone();
        rt.block_on(self.run_async(d, repr, xid))
    }

    /// Runs `cases` pipelined: every case and its canary DISCOVER go out at once, each
    /// canary's REQUEST and RELEASE follow as its replies come, and replies are attributed by
    /// xid. The server still sees each case right before its own canary, so a case's replies
    /// precede its canary's OFFER as in [`Executor::run`].
    ///
    /// Returns `None` when any canary went unanswered (a crash, a hang, or a slow server): the
    /// caller then runs the cases one by one with [`Executor::run`], which attributes the
    /// failure to the case that caused it. No frames are recorded.
    pub fn run_batch(&mut self, cases: &[FuzzCase]) -> Result<Option<Vec<Observation>>, ExecError> {
        let items: Vec<(Datagram, Repr, u32)> = cases
            .iter()
            .map(|c| {
                let xid = self.next();
                let e = c.encode(&self.env, xid);
                (e.datagram, e.repr, xid)
            })
            .collect();
        let rt = self.rt.clone();
        rt.block_on(self.batch_async(items))
    }

    async fn batch_async(
        &mut self,
        items: Vec<(Datagram, Repr, u32)>,
    ) -> Result<Option<Vec<Observation>>, ExecError> {
        self.drain()?;
        let n = items.len();
        let mut frames = Vec::new();
        let mut replies: Vec<Vec<Incoming>> = vec![Vec::new(); n];
        let mut case_of: HashMap<u32, usize> = HashMap::with_capacity(n);
        // Per canary: xid, MAC, stage (0 awaits OFFER, 1 awaits ACK, 2 done), address.
        let mut canaries: Vec<(u32, [u8; 6], u8, Ipv4Addr)> = Vec::with_capacity(n);
        let mut canary_of: HashMap<u32, usize> = HashMap::with_capacity(n);
        let env = self.env.clone();
        for (i, (d, _, xid)) in items.iter().enumerate() {
            case_of.insert(*xid, i);
            self.send(d, "case", &mut frames).await?;
            let cx = self.next();
            let k = self.counter;
            let mac = [0x02, 0xcf, 0xca, (k >> 16) as u8, (k >> 8) as u8, k as u8];
            canary_of.insert(cx, i);
            canaries.push((cx, mac, 0, Ipv4Addr::UNSPECIFIED));
            self.send(
                &canary_message(&env, 1, cx, mac, None),
                "canary DHCPDISCOVER",
                &mut frames,
            )
            .await?;
        }
        self.stats.executions += n as u64;
        let mut pending = n;
        let mut retries = 0;
        let timeout = self.cfg.canary_timeout;
        let mut deadline = Instant::now() + timeout;
        let mut tick = self.tick(deadline);
        while pending > 0 {
            let Some(inc) = self.next_incoming(deadline, &mut tick).await? else {
                return Ok(None);
            };
            self.stats.received += 1;
            let Some(x) = xid_of(&inc.datagram) else {
                continue;
            };
            if let Some(&i) = case_of.get(&x) {
                replies[i].push(inc);
                continue;
            }
            let Some(&i) = canary_of.get(&x) else {
                continue;
            };
            let Some((2, t, yiaddr)) = quick(&inc.datagram.payload) else {
                continue;
            };
            let (cx, mac, stage, _) = canaries[i];
            match (stage, t) {
                (0, Some(2)) => {
                    canaries[i].2 = 1;
                    canaries[i].3 = yiaddr;
                    let m = canary_message(&env, 3, cx, mac, Some(yiaddr));
                    self.send(&m, "canary DHCPREQUEST", &mut frames).await?;
                }
                // Canaries in flight may be offered the same address (servers need not reserve
                // an offered address): the loser of the race is NAKed and starts over.
                // (With n in flight and a server handing out the lowest free address, up to
                // n(n-1)/2 NAKs are legitimate.)
                (1, Some(6)) if retries < n * n => {
                    retries += 1;
                    canaries[i].2 = 0;
                    let m = canary_message(&env, 1, cx, mac, None);
                    self.send(&m, "canary DHCPDISCOVER", &mut frames).await?;
                }
                (1, Some(5)) => {
                    canaries[i].2 = 2;
                    let m = canary_message(&env, 7, cx, mac, Some(canaries[i].3));
                    self.send(&m, "canary DHCPRELEASE", &mut frames).await?;
                    pending -= 1;
                    deadline = Instant::now() + timeout;
                }
                _ => {}
            }
        }
        let mut out = Vec::with_capacity(n);
        for ((request, repr, xid), replies) in items.into_iter().zip(replies) {
            for i in &replies {
                let r = Repr::parse(&i.datagram.payload);
                if reply_type(&r) == Some(5) && self.env.assignable(r.yiaddr) {
                    let x = self.next();
                    let rel = release_for(&self.env, &repr, r.yiaddr, x);
                    self.send(&rel, "cleanup DHCPRELEASE", &mut frames).await?;
                }
            }
            out.push(Observation {
                xid,
                request,
                replies,
                liveness: None,
                slow: false,
                frames: Vec::new(),
            });
        }
        Ok(Some(out))
    }

    /// Runs cases as a stream with up to `window` in flight: whenever a case is done (its
    /// canary acknowledged), the next one from `next` goes out at once, so the server always
    /// has work queued while conform judges and generates. Observations are handed to `done`
    /// in submission order; when `done` returns `false`, no further case is taken from `next`
    /// and the cases in flight are finished (and handed over) first.
    ///
    /// Each case still reaches the server right before its own canary DISCOVER, and replies
    /// are attributed by xid, as in [`Executor::run_batch`].
    ///
    /// Returns the tokens of the cases that were not handed over because a canary went
    /// unanswered for the canary timeout (a crash, a hang, or a slow server), in submission
    /// order; empty when the stream ran dry. The caller runs those one by one with
    /// [`Executor::run`], which attributes the failure to the case that caused it. No frames
    /// are recorded.
    pub fn run_stream<T>(
        &mut self,
        window: usize,
        next: &mut dyn FnMut() -> Option<(T, FuzzCase)>,
        done: &mut dyn FnMut(T, Observation) -> bool,
    ) -> Result<Vec<T>, ExecError> {
        let rt = self.rt.clone();
        rt.block_on(self.stream_async(window.max(1), next, done))
    }

    async fn stream_async<T>(
        &mut self,
        window: usize,
        next: &mut dyn FnMut() -> Option<(T, FuzzCase)>,
        done: &mut dyn FnMut(T, Observation) -> bool,
    ) -> Result<Vec<T>, ExecError> {
        self.drain()?;
        let env = self.env.clone();
        let timeout = self.cfg.canary_timeout;
        let mut nap = Nap::default();
        // Slots in submission order; `first` is the sequence number of slots[0].
        let mut slots: VecDeque<Slot<T>> = VecDeque::with_capacity(window);
        let mut first: u64 = 0;
        // xid -> (sequence number, is the canary)
        let mut owner: HashMap<u32, (u64, bool)> = HashMap::with_capacity(4 * window);
        let mut frames = Vec::new();
        let mut feeding = true;
        let mut tick = self.tick(Instant::now() + timeout);
        loop {
            // Fill the window.
            while feeding && slots.len() < window {
                let Some((token, case)) = next() else {
                    feeding = false;
                    break;
                };
                let xid = self.next();
                let enc = case.encode(&env, xid);
                let seq = first + slots.len() as u64;
                owner.insert(xid, (seq, false));
                self.send(&enc.datagram, "case", &mut frames).await?;
                let cx = self.next();
                let k = self.counter;
                let mac = [0x02, 0xcf, 0xca, (k >> 16) as u8, (k >> 8) as u8, k as u8];
                owner.insert(cx, (seq, true));
                self.send(
                    &canary_message(&env, 1, cx, mac, None),
                    "canary DHCPDISCOVER",
                    &mut frames,
                )
                .await?;
                self.stats.executions += 1;
                slots.push_back(Slot {
                    token,
                    request: enc.datagram,
                    repr: enc.repr,
                    xid,
                    canary: cx,
                    mac,
                    stage: 0,
                    addr: Ipv4Addr::UNSPECIFIED,
                    since: Instant::now(),
                    retries: 0,
                    replies: Vec::new(),
                });
            }
            // Hand over finished cases in order.
            while slots.front().is_some_and(|s| s.stage == 2) {
                let Some(s) = slots.pop_front() else { break };
                first += 1;
                owner.remove(&s.xid);
                owner.remove(&s.canary);
                let obs = Observation {
                    xid: s.xid,
                    request: s.request,
                    replies: s.replies,
                    liveness: None,
                    slow: false,
                    frames: Vec::new(),
                };
                if !done(s.token, obs) {
                    feeding = false;
                }
            }
            if slots.is_empty() {
                if feeding {
                    continue;
                }
                return Ok(Vec::new());
            }
            // Wait for the next reply; the oldest unanswered canary sets the deadline.
            let deadline = slots
                .iter()
                .filter(|s| s.stage < 2)
                .map(|s| s.since)
                .min()
                .unwrap_or_else(Instant::now)
                + timeout;
            let outstanding = slots.iter().filter(|s| s.stage < 2).count();
            let Some(inc) = self
                .next_incoming_napping(deadline, &mut tick, &mut nap, outstanding)
                .await?
            else {
                let alive = self.lab.as_ref().is_none_or(|l| l.server_alive());
                if alive && Instant::now() < deadline {
                    continue;
                }
                return Ok(slots.into_iter().map(|s| s.token).collect());
            };
            self.stats.received += 1;
            let Some(x) = xid_of(&inc.datagram) else {
                continue;
            };
            let Some(&(seq, is_canary)) = owner.get(&x) else {
                continue;
            };
            let Some(slot) = slots.get_mut((seq - first) as usize) else {
                continue;
            };
            if !is_canary {
                slot.replies.push(inc);
                continue;
            }
            let Some((2, t, yiaddr)) = quick(&inc.datagram.payload) else {
                continue;
            };
            match (slot.stage, t) {
                (0, Some(2)) => {
                    slot.stage = 1;
                    slot.addr = yiaddr;
                    slot.since = Instant::now();
                    let m = canary_message(&env, 3, slot.canary, slot.mac, Some(yiaddr));
                    self.send(&m, "canary DHCPREQUEST", &mut frames).await?;
                }
                // Canaries in flight may be offered the same address (servers need not
                // reserve an offered address): the loser of the race is NAKed and starts over.
                (1, Some(6)) if slot.retries < window => {
                    slot.retries += 1;
                    slot.stage = 0;
                    slot.since = Instant::now();
                    let m = canary_message(&env, 1, slot.canary, slot.mac, None);
                    self.send(&m, "canary DHCPDISCOVER", &mut frames).await?;
                }
                (1, Some(5)) => {
                    slot.stage = 2;
                    let m = canary_message(&env, 7, slot.canary, slot.mac, Some(slot.addr));
                    // Leave the pool as it was: release what the case itself was given.
                    let mut rels = vec![m];
                    for i in &slot.replies {
                        let r = Repr::parse(&i.datagram.payload);
                        if reply_type(&r) == Some(5) && env.assignable(r.yiaddr) {
                            let x = self.next();
                            rels.push(release_for(&env, &slot.repr, r.yiaddr, x));
                        }
                    }
                    for (k, m) in rels.iter().enumerate() {
                        let label = if k == 0 {
                            "canary DHCPRELEASE"
                        } else {
                            "cleanup DHCPRELEASE"
                        };
                        self.send(m, label, &mut frames).await?;
                    }
                }
                _ => {}
            }
        }
    }

    /// The timer of one wait: it fires every 20 ms for a managed server (whose process is
    /// then checked, so a crash is known at once) and at the deadline. One timer per wait, reset
    /// in place: registering a timer from outside the runtime's workers wakes its time driver,
    /// which costs more than handling a message.
    fn tick(&self, deadline: Instant) -> Pin<Box<Sleep>> {
        Box::pin(tokio::time::sleep_until(self.next_tick(deadline).into()))
    }

    fn next_tick(&self, deadline: Instant) -> Instant {
        match &self.lab {
            Some(_) => deadline.min(Instant::now() + Duration::from_millis(20)),
            None => deadline,
        }
    }

    /// The next datagram, or `None` at `deadline` or when a managed server has died.
    async fn next_incoming(
        &mut self,
        deadline: Instant,
        tick: &mut Pin<Box<Sleep>>,
    ) -> Result<Option<Incoming>, ExecError> {
        loop {
            match self.rx.try_recv() {
                Ok(i) => return Ok(Some(i)),
                Err(TryRecvError::Lagged(_)) => continue,
                Err(TryRecvError::Closed) => return Err(ExecError::Closed),
                Err(TryRecvError::Empty) => {}
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::select! {
                biased;
                r = self.rx.recv() => match r {
                    Ok(i) => return Ok(Some(i)),
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return Err(ExecError::Closed),
                },
                _ = tick.as_mut() => {
                    if self.lab.as_ref().is_some_and(|l| !l.server_alive()) {
                        return Ok(None);
                    }
                    let next = self.next_tick(deadline);
                    tick.as_mut().reset(next.into());
                }
            }
        }
    }

    /// [`Executor::next_incoming`], after a nap when the server is the slower side.
    ///
    /// A reply that finds conform asleep in `epoll_wait` makes the *server's* send wake it
    /// (an inter-processor interrupt in a VM): against dnsmasq that was about 10% of the
    /// server's CPU per case. When the stream has work queued at the server, conform instead
    /// sleeps a short while without waiting on the socket (the server's sends then only queue
    /// the frame) and collects everything that arrived in one go. The nap adapts: it halves
    /// when everything outstanding was answered within it (the server may have gone idle: a
    /// fast server, where conform is the bottleneck) and grows to at most [`Nap::MAX`] when
    /// replies are still owed; below [`Nap::MIN`] conform blocks as usual and probes again
    /// now and then.
    async fn next_incoming_napping(
        &mut self,
        deadline: Instant,
        tick: &mut Pin<Box<Sleep>>,
        nap: &mut Nap,
        outstanding: usize,
    ) -> Result<Option<Incoming>, ExecError> {
        match self.rx.try_recv() {
            Ok(i) => return Ok(Some(i)),
            Err(TryRecvError::Lagged(_)) | Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Closed) => return Err(ExecError::Closed),
        }
        if let Some(d) = nap.next().filter(|_| outstanding > 0) {
            std::thread::sleep(d);
            // The first yield lets the runtime poll the socket without blocking; the second
            // runs the adapter's receive task on what it found.
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
            nap.observe(self.rx.len(), outstanding);
        }
        self.next_incoming(deadline, tick).await
    }

    fn drain(&mut self) -> Result<(), ExecError> {
        loop {
            match self.rx.try_recv() {
                Ok(_) | Err(TryRecvError::Lagged(_)) => continue,
                Err(TryRecvError::Empty) => return Ok(()),
                Err(TryRecvError::Closed) => return Err(ExecError::Closed),
            }
        }
    }

    async fn send(
        &mut self,
        d: &Datagram,
        label: &str,
        frames: &mut Vec<Frame>,
    ) -> Result<(), ExecError> {
        self.adapter.send(d).await?;
        self.stats.sent += 1;
        if self.record {
            frames.push(Frame {
                sent: true,
                at: SystemTime::now(),
                label: label.to_string(),
                datagram: d.clone(),
            });
        }
        Ok(())
    }

    /// Receives until `want` matches or `deadline`; replies with `case_xid` go to `sink`.
    async fn wait(
        &mut self,
        deadline: Instant,
        case_xid: Option<u32>,
        sink: &mut Vec<Incoming>,
        frames: &mut Vec<Frame>,
        want: impl Fn(&Incoming) -> bool,
    ) -> Result<Option<Incoming>, ExecError> {
        let mut tick = self.tick(deadline);
        loop {
            let Some(inc) = self.next_incoming(deadline, &mut tick).await? else {
                return Ok(None);
            };
            // Our own frames never come back (adapter invariant); anything else counts.
            self.stats.received += 1;
            let x = xid_of(&inc.datagram);
            if self.record {
                frames.push(Frame {
                    sent: false,
                    at: inc.at,
                    label: if x.is_some() && x == case_xid {
                        "reply to the case".into()
                    } else {
                        "canary reply or other traffic".into()
                    },
                    datagram: inc.datagram.clone(),
                });
            }
            if x.is_some() && x == case_xid {
                sink.push(inc);
                continue;
            }
            if want(&inc) {
                return Ok(Some(inc));
            }
        }
    }

    /// DISCOVER, OFFER, REQUEST, ACK, RELEASE from a fresh client.
    async fn canary(
        &mut self,
        timeout: Duration,
        case_xid: Option<u32>,
        sink: &mut Vec<Incoming>,
        frames: &mut Vec<Frame>,
    ) -> Result<Canary, ExecError> {
        let xid = self.next();
        let n = self.counter;
        let mac = [0x02, 0xcf, 0xca, (n >> 16) as u8, (n >> 8) as u8, n as u8];
        let env = self.env.clone();
        self.send(
            &canary_message(&env, 1, xid, mac, None),
            "canary DHCPDISCOVER",
            frames,
        )
        .await?;
        let is = |t: u8| {
            move |i: &Incoming| {
                xid_of(&i.datagram) == Some(xid)
                    && matches!(quick(&i.datagram.payload), Some((2, Some(x), _)) if x == t)
            }
        };
        let Some(offer) = self
            .wait(Instant::now() + timeout, case_xid, sink, frames, is(2))
            .await?
        else {
            return Ok(Canary {
                ok: false,
                stage: "DHCPOFFER",
            });
        };
        let yiaddr = Repr::parse(&offer.datagram.payload).yiaddr;
        self.send(
            &canary_message(&env, 3, xid, mac, Some(yiaddr)),
            "canary DHCPREQUEST",
            frames,
        )
        .await?;
        if self
            .wait(Instant::now() + timeout, case_xid, sink, frames, is(5))
            .await?
            .is_none()
        {
            return Ok(Canary {
                ok: false,
                stage: "DHCPACK",
            });
        }
        self.send(
            &canary_message(&env, 7, xid, mac, Some(yiaddr)),
            "canary DHCPRELEASE",
            frames,
        )
        .await?;
        Ok(Canary {
            ok: true,
            stage: "",
        })
    }

    async fn run_async(
        &mut self,
        request: Datagram,
        repr: Repr,
        xid: u32,
    ) -> Result<Observation, ExecError> {
        self.stats.executions += 1;
        self.drain()?;
        let mut frames = Vec::new();
        let mut replies = Vec::new();
        self.send(&request, "case", &mut frames).await?;
        let t = self.cfg.canary_timeout;
        let mut c = self.canary(t, Some(xid), &mut replies, &mut frames).await?;
        let mut slow = false;
        let mut liveness = None;
        if !c.ok {
            liveness = self.process_violation();
            if liveness.is_none() && self.cfg.retry_timeout.is_zero() {
                liveness = Some(Violation::new(
                    Oracle::Hang,
                    "",
                    format!(
                        "the server runs but a fresh client got no {} within {} ms",
                        c.stage,
                        t.as_millis()
                    ),
                ));
            } else if liveness.is_none() {
                let first = c.stage;
                c = self
                    .canary(self.cfg.retry_timeout, Some(xid), &mut replies, &mut frames)
                    .await?;
                if c.ok {
                    slow = true;
                    self.stats.slow_canaries += 1;
                } else {
                    liveness = self.process_violation().or_else(|| {
                        Some(Violation::new(
                            Oracle::Hang,
                            "",
                            format!(
                                "the server runs but a fresh client got no {first} within {} ms, nor on a second try within {} ms",
                                t.as_millis(),
                                self.cfg.retry_timeout.as_millis()
                            ),
                        ))
                    });
                }
            }
        }
        if !self.cfg.settle.is_zero() {
            let deadline = Instant::now() + self.cfg.settle;
            self.wait(deadline, Some(xid), &mut replies, &mut frames, |_| false)
                .await?;
        }
        // Leave the pool as it was: release what the case was given.
        if liveness.is_none() {
            let acked: Vec<Ipv4Addr> = replies
                .iter()
                .filter_map(|i| {
                    let r = Repr::parse(&i.datagram.payload);
                    (reply_type(&r) == Some(5) && self.env.assignable(r.yiaddr)).then_some(r.yiaddr)
                })
                .collect();
            for a in acked {
                let x = self.next();
                let rel = release_for(&self.env, &repr, a, x);
                self.send(&rel, "cleanup DHCPRELEASE", &mut frames).await?;
            }
        }
        Ok(Observation {
            xid,
            request,
            replies,
            liveness,
            slow,
            frames,
        })
    }

    /// Crash or restart, from the process table (managed servers only).
    fn process_violation(&self) -> Option<Violation> {
        let lab = self.lab.as_ref()?;
        if !lab.server_alive() {
            let how = lab.server_exit_status().unwrap_or_else(|| "exited".into());
            return Some(Violation::new(
                Oracle::Crash,
                "",
                format!(
                    "the server process {} ended ({how})",
                    self.pid.map(|p| p.to_string()).unwrap_or_default()
                ),
            ));
        }
        let now = lab.server_pid();
        if now != self.pid {
            return Some(Violation::new(
                Oracle::Restart,
                "",
                format!("the server process changed from {:?} to {now:?}", self.pid),
            ));
        }
        None
    }

    /// Empties the managed server's log when it has grown past `max` octets. The lab keeps
    /// it on tmpfs by default, where a server logging every packet (dnsmasq's log-dhcp:
    /// about 5 KiB per case) would fill memory in a long campaign. The server appends
    /// (O_APPEND), so truncating under it is safe. Returns whether it truncated.
    pub fn trim_log(&self, max: u64) -> bool {
        let Some(lab) = &self.lab else { return false };
        let p = lab.log_path();
        if std::fs::metadata(p).map(|m| m.len()).unwrap_or(0) <= max {
            return false;
        }
        std::fs::OpenOptions::new()
            .write(true)
            .open(p)
            .and_then(|f| f.set_len(0))
            .is_ok()
    }

    /// After a liveness violation: restart a managed server and check it serves again.
    pub fn recover(&mut self) -> Result<(), ExecError> {
        let Some(lab) = self.lab.clone() else {
            return Err(ExecError::Restart(
                "conform did not start this server, so it cannot restart it".into(),
            ));
        };
        let rt = self.rt.clone();
        rt.block_on(lab.restart_server())
            .map_err(|e| ExecError::Restart(e.to_string()))?;
        self.stats.restarts += 1;
        self.pid = lab.server_pid();
        self.baseline()
    }
}

#[cfg(test)]
mod tests {
    use super::Nap;
    use std::time::Duration;

    #[test]
    fn nap_halves_when_the_server_caught_up_and_grows_while_replies_are_owed() {
        let mut n = Nap::default();
        assert_eq!(n.next(), Some(Duration::from_micros(50)));
        // Everything owed arrived within the nap: the server may have idled.
        n.observe(16, 16);
        assert_eq!(n.next(), Some(Duration::from_micros(25)));
        n.observe(16, 16);
        n.observe(16, 16);
        // Below the minimum: block as usual, probe again after PROBE waits.
        for _ in 1..Nap::PROBE {
            assert_eq!(n.next(), None);
        }
        assert_eq!(n.next(), Some(Duration::from_micros(Nap::MIN)));
        // Replies still owed: the nap grows, up to the maximum.
        for _ in 0..20 {
            n.observe(2, 16);
        }
        assert_eq!(n.next(), Some(Duration::from_micros(Nap::MAX)));
    }
}
